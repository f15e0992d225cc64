"""The REST API in-process (TestClient with its lifespan, a real SQLite file): discovery, validation
errors with JSON paths, runs from creation to their end, failures, divergence, queueing and caps."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from fastapi.testclient import TestClient

from engine.device import available_devices
from serverkit import LONG, Api, spec, strict_json, api_for, wait_for

HISTORY = ["epoch", "train_loss", "val_loss", "train_acc", "val_acc", "lr", "step_time"]


# -- discovery -----------------------------------------------------------------------------------------
def test_health(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["devices"][0] == "cpu"
    assert body["version"]
    assert body["runs"] == {"active": 0, "queued": 0}


def test_catalog_and_schema(client: TestClient) -> None:
    cat = client.get("/api/catalog").json()
    assert {"layers", "activations", "datasets", "optimizers", "tasks", "presets", "limits"} <= set(cat)
    assert "dense" in {layer["type"] for layer in cat["layers"]}
    assert "circle" in {d["name"] for d in cat["datasets"]}
    schema = client.get("/api/schema").json()
    assert {"data", "model", "training"} <= set(schema["properties"])
    assert "data" in schema["required"] and "model" in schema["required"]


def test_catalog_limits_are_the_servers(make_client: Callable[..., TestClient]) -> None:
    """The page caps its forms with these: they must be this server's settings, not the defaults."""
    c = make_client(max_epochs=123, max_params=4567, max_samples=890, max_activation_mib=64)
    limits = c.get("/api/catalog").json()["limits"]
    assert (limits["max_epochs"], limits["max_params"], limits["max_samples"], limits["max_activation_mib"]) \
        == (123, 4567, 890, 64)


# -- validation --------------------------------------------------------------------------------------------
def test_validate_gives_shapes_with_the_head_last(client: TestClient) -> None:
    r = client.post("/api/validate", json=spec())
    assert r.status_code == 200
    body = r.json()
    assert body["input_shape"] == [2] and body["task"] == "classification" and body["n_classes"] == 2
    rows = body["layers"]
    assert [r["path"] for r in rows] == ["model.layers[0]", "model.head"]
    assert rows[0]["output_shape"] == [8] and rows[0]["params"] == 2 * 8 + 8
    assert rows[-1]["is_head"] and rows[-1]["input_shape"] == [8]
    assert body["total_params"] == sum(r["params"] for r in rows)


BAD_SPECS = [
    ({"model": {"layers": [{"type": "dense", "units": 0}]}}, "model.layers[0].units", "greater than"),
    ({"model": {"layers": [{"type": "dense"}, {"type": "dense", "units": "many"}]}}, "model.layers[1].units", ""),
    ({"model": {"layers": [{"type": "transformer"}]}}, "model.layers[0]", "valid: dense"),
    ({"model": {"layers": [{"type": "dense", "colour": "red"}]}}, "model.layers[0].colour", "unknown field"),
    ({"data": {"dataset": "mnist"}}, "data.dataset", "valid:"),
    ({"training": {"optimizer": "lion"}}, "training.optimizer", "valid:"),
    ({"training": {"lr": -1}}, "training.lr", "greater than"),
    ({"training": {"epochs": 5001}}, "training.epochs", "at most 5000"),
    ({"training": {"lr_schedule": {"type": "step", "gamma": 2}}}, "training.lr_schedule.gamma", ""),
]


@pytest.mark.parametrize("patch,path,words", BAD_SPECS, ids=[p for _, p, _ in BAD_SPECS])
@pytest.mark.parametrize("endpoint", ["/api/validate", "/api/runs"])
def test_invalid_specs_are_422_with_json_paths(api: Api, client: TestClient, endpoint: str,
                                               patch: dict[str, Any], path: str, words: str) -> None:
    r = client.post(endpoint, json=spec(patch))
    assert r.status_code == 422, r.text
    errors = strict_json(r.text)["errors"]
    assert path in [e["path"] for e in errors], errors
    assert all(set(e) <= {"path", "message", "fix"} and e["message"] for e in errors)
    assert words in next(e["message"] for e in errors if e["path"] == path)
    assert client.get("/api/health").json()["runs"] == {"active": 0, "queued": 0}  # nothing was queued


@pytest.mark.parametrize("body", [[], "spiral", 3, None], ids=["list", "string", "number", "null"])
def test_a_body_that_is_not_an_object_is_422(client: TestClient, body: Any) -> None:
    r = client.post("/api/validate", json=body)
    assert r.status_code == 422
    assert r.json()["errors"] and all("path" in e and "message" in e for e in r.json()["errors"])


@pytest.mark.parametrize("endpoint", ["/api/validate", "/api/runs"])
def test_a_body_that_is_not_json_is_422_at_the_root(client: TestClient, endpoint: str) -> None:
    r = client.post(endpoint, content='{"data": {"dataset": "circle"}, "model": ',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json() == {"errors": [{"path": "$", "message": "not valid JSON: Expecting value at character 41"}]}


SHAPE_ERRORS = [
    # dense on an image: insert a flatten before it
    ({"data": {"dataset": "digits", "n_samples": None}, "model": {"layers": [{"type": "dense", "units": 4}]}},
     "model.layers[0]", {"op": "insert", "index": 0, "layer": {"type": "flatten"}}),
    # a conv on 2-D points: remove it
    ({"model": {"layers": [{"type": "dense"}, {"type": "conv2d"}]}}, "model.layers[1]", {"op": "remove", "index": 1}),
    # an image stack that ends without a flatten: add one at the end
    ({"data": {"dataset": "digits", "n_samples": None}, "model": {"layers": [{"type": "conv2d", "filters": 2}]}},
     "model.layers[0]", {"op": "insert", "index": 1, "layer": {"type": "flatten"}}),
]


@pytest.mark.parametrize("patch,path,fix", SHAPE_ERRORS, ids=["dense-on-image", "conv-on-points", "no-flatten"])
@pytest.mark.parametrize("endpoint", ["/api/validate", "/api/runs"])
def test_a_shape_error_carries_a_fix(client: TestClient, endpoint: str, patch: dict[str, Any], path: str,
                                     fix: dict[str, Any]) -> None:
    r = client.post(endpoint, json=spec(patch))
    assert r.status_code == 422, r.text
    [err] = r.json()["errors"]
    assert err["path"] == path
    assert {k: err["fix"][k] for k in fix} == fix
    assert err["fix"]["label"]


def test_caps_come_from_the_settings(make_client: Callable[..., TestClient]) -> None:
    c = make_client(max_epochs=10, max_params=50, max_samples=200)
    errors = c.post("/api/validate", json=spec({"training": {"epochs": 11}})).json()["errors"]
    assert [e["path"] for e in errors] == ["training.epochs"]
    errors = c.post("/api/validate", json=spec({"data": {"n_samples": 201}})).json()["errors"]
    assert [e["path"] for e in errors] == ["data.n_samples"]
    errors = c.post("/api/runs", json=spec({"model": {"layers": [{"type": "dense", "units": 64}]}})).json()["errors"]
    assert errors[0]["path"] == "model.layers" and "cap" in errors[0]["message"]


# -- runs ----------------------------------------------------------------------------------------------------
def test_a_run_from_post_to_finished(api: Api, client: TestClient) -> None:
    created = api.create(spec(), label="baseline", parent="abc123")
    assert set(created) == {"id", "status", "summary", "device"}
    assert created["device"] in ("cpu", "cuda", "mps")  # "auto" as this server resolves it (the page shows it)
    assert created["status"] in ("queued", "running")
    assert created["summary"]["total_params"] == 2 * 8 + 8 + 8 * 2 + 2
    run = api.wait_status(created["id"], "finished")
    assert run["label"] == "baseline" and run["parent"] == "abc123"
    assert run["spec"]["training"]["epochs"] == 5
    h = run["history"]
    assert list(h) == HISTORY
    assert h["epoch"] == [1, 2, 3, 4, 5] and all(len(h[c]) == 5 for c in HISTORY)
    assert h["lr"] == [0.1] * 5 and all(0 <= a <= 1 for a in h["val_acc"])
    assert run["diagnosis"]["verdict"] and run["best_epoch"] in h["epoch"]
    assert run["error"] is None and "boundary" in run["snapshots"]
    wait_for(lambda: api.run(created["id"])["has_weights"], what="weights")
    weights = client.get(f"/api/runs/{created['id']}/weights.safetensors")
    assert weights.status_code == 200 and len(weights.content) > 100
    # a run that has ended takes no more controls
    for action in ("pause", "resume", "step", "stop"):
        assert "finished" in api.control(created["id"], {"action": action}, status=409)["detail"]


def test_unknown_runs_and_bad_controls(api: Api, client: TestClient) -> None:
    assert client.get("/api/runs/nope").status_code == 404
    assert client.post("/api/runs/nope/control", json={"action": "stop"}).status_code == 404
    assert client.get("/api/runs/" + "x" * 500).status_code == 404
    run_id = api.create(spec(LONG))["id"]
    try:
        for frame, path in [({"action": "fly"}, ""), ({"action": "set", "lr": "fast"}, "lr"),
                            ({"action": "set", "lr": 0}, "lr"), ({"action": "pause", "x": 1}, "x"), ({}, "")]:
            errors = api.control(run_id, frame, status=422)["errors"]
            assert errors and (not path or path in errors[0]["path"]), (frame, errors)
        assert api.run(run_id)["status"] == "running"
    finally:
        api.control(run_id, {"action": "stop"})
    assert api.wait_status(run_id, "stopped")["error"] is None


def test_finished_runs_are_read_back_after_a_restart(make_client: Callable[..., TestClient]) -> None:
    first = api_for(make_client())
    run_id = first.create(spec())["id"]
    before = first.wait_status(run_id, "finished")
    wait_for(lambda: first.run(run_id)["has_weights"], what="the final save")
    second = make_client()  # a second app on the same SQLite file
    again = api_for(second).run(run_id)
    assert again["status"] == "finished"
    for key in ("history", "diagnosis", "best_epoch", "spec", "summary", "snapshots", "label"):
        assert again[key] == before[key], key
    assert second.get(f"/api/runs/{run_id}/weights.safetensors?which=best").status_code == 200
    with second.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        replay = [ws.receive_json() for _ in range(4)]
    assert [m["type"] for m in replay][:2] == ["status", "metrics"]
    assert replay[1]["epoch"] == before["history"]["epoch"]


# -- failures and divergence -----------------------------------------------------------------------------
def _unavailable_device() -> str:
    for name in ("mps", "cuda"):
        if name not in available_devices():
            return name
    pytest.skip("every device is available here")


def test_a_device_this_server_lacks_is_refused_up_front(client: TestClient) -> None:
    """Not a 201 and a failed run later: the spec is checked against this server's devices."""
    device = _unavailable_device()
    for url in ("/api/validate", "/api/runs"):
        res = client.post(url, json=spec({"training": {"device": device}}))
        assert res.status_code == 422
        [err] = res.json()["errors"]
        assert err["path"] == "training.device" and device in err["message"] and "cpu" in err["message"]


def test_a_run_that_raises_is_failed_with_the_reason_and_the_server_carries_on(api: Api, client: TestClient) -> None:
    """`split_provider` is the manager's public hook for data (uploaded CSVs); here it raises."""

    def broken(_spec: Any) -> Any:
        raise OSError("the uploaded file has gone")

    manager = client.app.state.manager
    provider, manager.split_provider = manager.split_provider, broken
    run_id = api.create(spec())["id"]
    run = api.wait_status(run_id, "failed", "finished")
    assert run["status"] == "failed" and run["error"] == "OSError: the uploaded file has gone"
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        msgs = []
        while not msgs or msgs[-1]["type"] != "end":
            msgs.append(ws.receive_json())
    assert msgs[-1]["status"] == "failed" and "gone" in msgs[-1]["error"]
    manager.split_provider = provider
    assert client.get("/api/health").status_code == 200
    assert api.wait_status(api.create(spec())["id"], "finished")["error"] is None


@pytest.mark.outcome
def test_a_diverging_run_is_diverged_with_advice_and_no_nan(api: Api, client: TestClient) -> None:
    run_id = api.create(spec({"training": {"optimizer": "sgd", "lr": 1e6, "epochs": 100}}))["id"]
    run = api.wait_status(run_id, "diverged", "finished", "failed")  # api parses strictly: no NaN/Infinity
    assert run["status"] == "diverged"
    assert "learning rate" in run["advice"]
    assert run["diagnosis"]["verdict"] == "diverged"
    assert any(r["id"] == "lower_lr" for r in run["diagnosis"]["remedies"])
    assert len(run["history"]["epoch"]) < 100
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        msgs = []
        while not msgs or msgs[-1]["type"] != "end":
            msgs.append(strict_json(ws.receive_text()))
    assert msgs[-1]["status"] == "diverged" and msgs[-1]["advice"] == run["advice"]


@pytest.mark.outcome
def test_nan_losses_never_reach_the_json(api: Api, client: TestClient) -> None:
    """ReLU regression at lr 1e6 overflows in the first epoch: the loss is NaN, recorded as null."""
    patch = {"data": {"dataset": "sine", "n_samples": None},
             "model": {"layers": [{"type": "dense", "units": 8, "activation": "relu"}]}, "training": {"lr": 1e6}}
    run_id = api.create(spec(patch))["id"]
    run = api.wait_status(run_id, "diverged", "finished")
    assert run["status"] == "diverged"
    assert run["history"]["epoch"] == [1] and run["history"]["train_loss"] == [None]
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        msgs = []
        while not msgs or msgs[-1]["type"] != "end":
            msgs.append(strict_json(ws.receive_text()))
    assert msgs[-1]["val_loss"] is None and msgs[-1]["advice"]


# -- queueing and caps --------------------------------------------------------------------------------------
def test_runs_beyond_the_concurrency_cap_wait_as_queued(make_client: Callable[..., TestClient]) -> None:
    c = make_client(max_concurrent_runs=1, max_queued_runs=1)
    api = api_for(c)
    first = api.create(spec(LONG))["id"]
    second = api.create(spec())
    assert second["status"] == "queued"
    assert c.get("/api/health").json()["runs"] == {"active": 1, "queued": 1}
    busy = c.post("/api/runs", json=spec())
    assert busy.status_code == 429 and "waiting" in busy.json()["detail"]
    api.wait_epochs(first, 20)
    assert api.run(second["id"])["status"] == "queued"
    assert api.run(second["id"])["history"]["epoch"] == []
    api.control(first, {"action": "stop"})
    api.wait_status(first, "stopped")
    assert api.wait_status(second["id"], "finished")["history"]["epoch"] == [1, 2, 3, 4, 5]
    wait_for(lambda: c.get("/api/health").json()["runs"] == {"active": 0, "queued": 0}, what="the slots back")


def test_a_queued_run_can_be_stopped_before_it_starts(make_client: Callable[..., TestClient]) -> None:
    c = make_client(max_concurrent_runs=1, max_queued_runs=1)
    api = api_for(c)
    first = api.create(spec(LONG))["id"]
    second = api.create(spec())["id"]
    assert api.control(second, {"action": "resume"}, status=409)["detail"]
    assert api.control(second, {"action": "stop"}) == {"status": "stopped"}
    assert c.get("/api/health").json()["runs"] == {"active": 1, "queued": 0}  # no longer waiting
    waiting = api.create(spec())["id"]  # its place in the queue is free again
    api.control(waiting, {"action": "stop"})
    api.control(first, {"action": "stop"})
    api.wait_status(first, "stopped")
    third = api.wait_status(api.create(spec())["id"], "finished")
    assert third["history"]["epoch"] == [1, 2, 3, 4, 5]  # spec()'s 5 epochs, all trained
    assert api.run(second)["status"] == "stopped" and api.run(second)["history"]["epoch"] == []


def test_the_wall_time_cap_stops_a_run_with_a_message(make_client: Callable[..., TestClient]) -> None:
    api = api_for(make_client(max_run_seconds=0.5))
    run_id = api.create(spec(LONG))["id"]
    run = api.wait_status(run_id, "stopped", "finished", timeout=10)
    assert run["status"] == "stopped"
    assert "wall-time cap" in run["error"] and "0.5 s" in run["error"]
    assert 0 < len(run["history"]["epoch"]) < 5000


# -- request size -------------------------------------------------------------------------------------------
def test_a_json_body_over_the_cap_gets_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=2048)
    big = spec({"model": {"layers": [{"type": "dense", "units": 4, "activation": "relu"}] * 60}})
    assert len(json.dumps(big, separators=(",", ":"))) > 2048
    res = client.post("/api/runs", json=big)
    assert res.status_code == 413 and "2048" in res.json()["detail"]

    def chunks():  # no Content-Length: counted while it streams in
        data = json.dumps(big).encode()
        for i in range(0, len(data), 500):
            yield data[i:i + 500]

    res = client.post("/api/validate", content=chunks(), headers={"content-type": "application/json"})
    assert res.status_code == 413
    assert client.post("/api/validate", json=spec()).status_code == 200  # a normal spec still passes

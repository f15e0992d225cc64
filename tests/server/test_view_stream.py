"""The CNN's views through the server: the catalog lists them, they stream, and a digit picked over
the websocket comes back as its feature maps, at once while the run is paused."""

from __future__ import annotations

from serverkit import Api, LiveServer, spec

DIGITS_CNN = {"data": {"dataset": "digits", "n_samples": 300},
              "model": {"layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
                                   {"type": "flatten"}]},
              "training": {"epochs": 2000, "optimizer": "adam", "lr": 0.01, "batch_size": 32}}


def test_the_catalog_lists_views_per_task(api: Api) -> None:
    tasks = {t["name"]: t for t in api.get("/api/catalog")["tasks"]}
    kinds = [v["kind"] for v in tasks["classification"]["views"]]
    assert kinds[:5] == ["boundary", "confusion", "misclassified", "filters", "feature_maps"]
    assert {v["kind"]: v["data_kinds"] for v in tasks["classification"]["views"]}["filters"] == ["image"]
    assert [v["kind"] for v in tasks["forecasting"]["views"]] == ["forecast", "weights"]


def test_a_picked_digit_comes_back_as_its_feature_maps(live: LiveServer) -> None:
    run_id = live.api.create(spec(DIGITS_CNN))["id"]
    s = live.stream(run_id)
    try:
        first = s.until(lambda m: m["type"] == "snapshot" and m["kind"] == "feature_maps")
        assert first["index"] == 0 and len(first["choices"]) == 16
        assert {"filters", "confusion", "misclassified"} <= {m.get("kind") for m in s.messages}
        s.send({"action": "pick", "index": 7})  # while running: answered after the next epoch
        running = s.until(lambda m: m["type"] == "snapshot" and m["kind"] == "feature_maps" and m["index"] == 7)
        assert running["label"] == first["choice_labels"][7]
        s.send({"action": "pause"})
        s.until(lambda m: m["type"] == "status" and m["status"] == "paused")
        epoch = live.api.wait_settled(run_id)["history"]["epoch"][-1]  # the epoch in flight has landed
        s.send({"action": "pick", "index": 3})  # while paused: answered without an epoch
        paused = s.until(lambda m: m["type"] == "snapshot" and m["kind"] == "feature_maps" and m["index"] == 3)
        assert paused["epoch"] == epoch and live.api.run(run_id)["history"]["epoch"][-1] == epoch
        maps = paused["layers"][0]["maps"]
        assert (len(maps), len(maps[0]), len(maps[0][0])) == (4, 8, 8)
        s.send({"action": "stop"})
        assert s.until_end()["status"] == "stopped"
    finally:
        s.close()
    snaps = live.api.run(run_id)["snapshots"]
    assert snaps["feature_maps"]["index"] == 3  # the pick stays with the run's last snapshots
    assert "already ended" in live.api.control(run_id, {"action": "pick", "index": 1}, status=409)["detail"]
    assert live.api.control(run_id, {"action": "pick", "index": 16}, status=422)["errors"]


def test_a_pick_on_an_ended_run_is_answered_from_its_saved_weights(make_client) -> None:
    """GET /api/runs/{id}/pick: a finished run's feature maps of another digit, from its final weights
    (checked with plain torch on the downloaded weights), also after a restart; 409 while live."""
    import torch
    from safetensors.torch import load as load_safetensors

    from engine.datasets import build_split
    from engine.model import build_model
    from engine.shapes import infer
    from engine.spec import parse_spec
    from serverkit import api_for, wait_for

    client = make_client()
    api = api_for(client)
    short = spec({**DIGITS_CNN, "training": {**DIGITS_CNN["training"], "epochs": 3}})
    run_id = api.create(short)["id"]
    run = api.wait_status(run_id, "finished", timeout=60)
    wait_for(lambda: api.run(run_id)["has_weights"], what="the final save")
    got = api.get(f"/api/runs/{run_id}/pick?index=5")
    (snap,) = got["snapshots"]
    assert got["index"] == 5 and snap["type"] == "snapshot" and snap["kind"] == "feature_maps"
    assert snap["index"] == 5 and snap["epoch"] == 3
    assert snap["label"] == run["snapshots"]["feature_maps"]["choice_labels"][5]

    parsed = parse_spec(run["spec"])
    summary = infer(parsed)
    model = build_model(parsed, summary)
    model.load_state_dict(load_safetensors(client.get(f"/api/runs/{run_id}/weights.safetensors").content))
    model.eval()
    x = build_split(parsed.data, summary.task).x_val[5:6]
    with torch.no_grad():
        maps = model[0](x)[0]  # (4, 8, 8): the conv layer after its ReLU
    assert torch.allclose(torch.tensor(snap["layers"][0]["maps"]), maps, atol=1e-3)

    again = api_for(make_client())  # a second app on the same database: the weights come from there
    assert again.get(f"/api/runs/{run_id}/pick?index=5")["snapshots"][0]["layers"] == snap["layers"]
    assert client.get(f"/api/runs/{run_id}/pick?index=16").status_code == 422

    live_id = api.create(spec(DIGITS_CNN))["id"]
    api.wait_epochs(live_id, 1, timeout=30)
    res = client.get(f"/api/runs/{live_id}/pick?index=1")
    assert res.status_code == 409 and "pick control" in res.json()["detail"]
    api.control(live_id, {"action": "stop"})

"""An ensemble run (training.seeds, issue 16) over the real server: its spread columns stream beside
the mean ones, the end arrives, the saved history and weights are what the docs say."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from safetensors.torch import load

from engine.spec import parse_spec
from engine.trainer import Trainer
from serverkit import Api, LiveServer, spec

SD = ("train_loss_sd", "val_loss_sd", "train_acc_sd", "val_acc_sd")


def test_an_ensemble_of_four_streams_its_spread_and_ends(live: LiveServer) -> None:
    body = spec({"training": {"epochs": 60, "seeds": 4}})
    created = live.api.create(body)
    assert created["summary"]["engine"] == "fused-dense"
    assert "4 seeds in batched matmuls" in created["summary"]["engine_why"]
    s = live.stream(created["id"])
    try:
        end = s.until_end()
    finally:
        s.close()
    metrics = [m for m in s.messages if m["type"] == "metrics"]
    assert metrics and all(set(SD) <= set(m) for m in metrics)
    for m in metrics:
        assert all(len(m[c]) == len(m["epoch"]) for c in SD)
    h = s.history()
    assert h["epoch"] == list(range(1, 61))
    assert all(v is not None and v >= 0 for c in SD for v in h[c])
    assert end["status"] == "finished" and end["epochs"] == 60
    run = live.api.run(created["id"])
    assert run["history"] == h and run["spec"]["training"]["seeds"] == 4
    # The diagnosis of an ensemble quotes the seed spread once it has a verdict.
    assert "seeds" in run["diagnosis"]["facts"] and "seed spread" in run["diagnosis"]["reason"]


def test_a_single_run_has_no_spread_columns(api: Api) -> None:
    run_id = api.create(spec())["id"]
    run = api.wait_status(run_id, "finished")
    assert not set(SD) & set(run["history"])
    assert "seeds" not in run["spec"]["training"]


def test_a_gan_ensemble_is_refused_at_training_seeds(client: TestClient) -> None:
    body = {"task": "generation", "data": {"dataset": "ring"},
            "model": {"generator": {"layers": []}, "discriminator": {"layers": []}}, "training": {"seeds": 2}}
    res = client.post("/api/runs", json=body)
    assert res.status_code == 422
    assert [e["path"] for e in res.json()["errors"]] == ["training.seeds"]


def test_the_saved_weights_are_member_zero_the_single_run_of_the_seed(client: TestClient, api: Api) -> None:
    body = spec({"training": {"seeds": 3}})
    run_id = api.create(body)["id"]
    api.wait_status(run_id, "finished")
    res = client.get(f"/api/runs/{run_id}/weights.safetensors")
    assert res.status_code == 200
    weights = load(io.BytesIO(res.content).read())
    single = Trainer(parse_spec(spec()))
    single.run()
    want = single.stepper.state_dict()
    assert weights.keys() == want.keys()
    for key, w in want.items():
        assert (weights[key] - w).abs().max() < 1e-6, key

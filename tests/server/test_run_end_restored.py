"""A run's `end` reports the weights it keeps, live and after a restart: checked against the
downloaded final weights, evaluated with plain torch."""

from __future__ import annotations

from typing import Callable

import pytest
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient
from safetensors.torch import load as load_safetensors

from engine.datasets import build_split
from engine.model import build_model
from engine.shapes import infer
from engine.spec import parse_spec
from serverkit import api_for, spec, wait_for

# Early stopping fires on this one (val loss rises after a few dozen epochs), so the kept weights are
# an earlier epoch's than the last.
EARLY = spec({"data": {"dataset": "spiral", "n_samples": 60, "noise": 0.3, "seed": 2},
              "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu"}] * 2},
              "training": {"optimizer": "adam", "lr": 0.01, "epochs": 400,
                           "early_stopping": {"patience": 10, "restore_best": True}}})


def _end(client: TestClient, run_id: str) -> dict:
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        while (msg := ws.receive_json())["type"] != "end":
            pass
    return msg


@pytest.mark.outcome
def test_end_val_loss_is_the_downloaded_weights_and_survives_a_restart(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    api = api_for(client)
    run_id = api.create(EARLY)["id"]
    run = api.wait_status(run_id, "finished", timeout=60)
    wait_for(lambda: api.run(run_id)["has_weights"], what="the final save")
    end = _end(client, run_id)
    assert run["stopped_early"] and end["weights_epoch"] < end["epochs"]

    parsed = parse_spec(run["spec"])
    summary = infer(parsed)
    model = build_model(parsed, summary)
    model.load_state_dict(load_safetensors(client.get(f"/api/runs/{run_id}/weights.safetensors").content))
    model.eval()
    split = build_split(parsed.data, summary.task)
    with torch.no_grad():
        out = model(split.x_val)
    assert abs(end["val_loss"] - F.cross_entropy(out, split.y_val).item()) < 1e-6
    assert abs(end["val_acc"] - (out.argmax(1) == split.y_val).float().mean().item()) < 1e-6
    assert end["val_loss"] != run["history"]["val_loss"][-1]
    assert run["snapshots"]["boundary"]["epoch"] == end["weights_epoch"]

    again = make_client()  # a second app on the same SQLite file reads the run back
    restored = _end(again, run_id)
    for key in ("val_loss", "val_acc", "weights_epoch", "epochs", "status", "best_epoch"):
        assert restored[key] == end[key], key

"""A family is a plug-in: one registered in the test (tests/server/toyfamily.py) appears in the
catalog, validates, trains and streams its own metric column, without a line changed elsewhere."""

from __future__ import annotations

import statistics
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from engine.errors import SpecError
from engine.family import FAMILIES
from engine.trainer import Trainer
from engine.spec import parse_spec
from serverkit import LiveServer
from toyfamily import NAME, ToyLinear, registered, toy_spec


@pytest.fixture
def toy() -> Iterator[ToyLinear]:
    yield from registered()


def test_the_toy_family_is_in_the_catalog_with_its_columns(toy, client: TestClient) -> None:
    cat = client.get("/api/catalog").json()
    entry = next(t for t in cat["tasks"] if t["name"] == NAME)
    assert [m["name"] for m in entry["metrics"]] == ["train_loss", "val_loss", "val_mae"]
    assert entry["metrics"][0]["pair"] == "val_loss" and entry["monitor"] == "val_loss"
    assert {"name": "mae", "label": "Mean absolute error"} in entry["charts"]
    assert entry["columns"] == ["epoch", "train_loss", "val_loss", "val_mae", "lr", "step_time"]
    plane = next(d for d in cat["datasets"] if d["name"] == "plane")
    circle = next(d for d in cat["datasets"] if d["name"] == "circle")
    assert NAME in plane["tasks"] and NAME not in circle["tasks"]
    # It validates through the same route, and its own rule on data names the task's problem.
    ok = client.post("/api/validate", json=toy_spec())
    assert ok.status_code == 200, ok.text
    bad = client.post("/api/validate", json={**toy_spec(), "data": {"dataset": "circle"}})
    assert bad.status_code == 422 and "toy_linear fits a line" in bad.text


def test_once_unregistered_it_is_gone() -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(toy_spec())
    assert "unknown task 'toy_linear'" in str(e.value.errors[0].message)
    assert NAME not in FAMILIES


@pytest.mark.outcome
def test_the_trainer_trains_it_and_records_its_column(toy) -> None:
    trainer = Trainer(parse_spec(toy_spec()))
    assert trainer.run().status == "finished"
    mae = trainer.history["val_mae"]
    assert len(mae) == 40 and "train_acc" not in trainer.history
    # A line fits a plane with noise 0.1: the MAE falls from the first epoch's to near the noise.
    assert statistics.mean(mae[-5:]) < 0.5 * mae[0] and statistics.mean(mae[-5:]) < 0.15
    assert trainer.best_epoch is not None


def test_it_streams_its_column_over_the_websocket(toy, make_live) -> None:
    live: LiveServer = make_live()
    run_id = live.api.create(toy_spec(60))["id"]
    s = live.stream(run_id)
    try:
        s.until(lambda m: m["type"] == "end", timeout=60)
    finally:
        s.close()
    batches = [m for m in s.messages if m["type"] == "metrics"]
    assert batches and all("val_mae" in m and "train_acc" not in m for m in batches)
    run = live.api.run(run_id)
    assert run["status"] == "finished"
    assert s.history() == run["history"] and len(run["history"]["val_mae"]) == 60
    assert s.messages[-1]["val_loss"] == run["history"]["val_loss"][-1]  # the end carries the monitored value

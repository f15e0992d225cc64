"""The learning outcomes that the browser's outcome tests show, trained here on the same specs.

`make test` runs the outcome tests again under other CPU float kernels (ATEN_CPU_CAPABILITY=default
and avx2), and leaves the browser tests out of those passes to keep CI short. These tests carry the
browser tests' claims into them: each trains the spec that its browser test builds in the page and
asserts what that test waits for on screen.
"""

from __future__ import annotations

from statistics import mean
from typing import Any

import pytest

from engine.catalog import PRESETS
from engine.data import build_split
from engine.events import DiagnosisEvent, EndEvent, SnapshotEvent
from engine.spec import apply_patch, merge_patch, parse_spec
from engine.trainer import Trainer

pytestmark = pytest.mark.outcome


def example(name: str, patch: dict[str, Any] | None = None) -> dict[str, Any]:
    """A "Load an example" spec as the page loads it, with the test's edits."""
    raw = next(p["spec"] for p in PRESETS if p["name"] == name)
    return merge_patch(raw, patch or {})


def train(raw: dict[str, Any]) -> tuple[Trainer, list]:
    trainer = Trainer(parse_spec(merge_patch(raw, {"training": {"device": "cpu"}})))
    events: list = []
    trainer.run(emit=events.append)
    return trainer, events


def diagnoses(events: list) -> list:
    return [e.diagnosis for e in events if isinstance(e, DiagnosisEvent)]


def test_the_linear_circle_example_scores_below_the_majority_class() -> None:
    """tests/browser/test_honest_views_page.py: the "worse than a guess" note (static/js/chance.js)
    shows when the last 5 epochs' mean validation accuracy is over 3 points below the majority share."""
    trainer, _ = train(example("linear_circle"))
    y = build_split(trainer.spec.data, trainer.spec.task).y_val
    share = max(int((y == c).sum()) for c in y.unique()) / len(y)
    assert mean(trainer.history["val_acc"][-5:]) < share - 0.03  # 0.32 against 0.60 here


def test_the_overfitting_example_offers_dropout_while_it_trains() -> None:
    """tests/browser/test_training.py: the overfitting example at 200 epochs shows "Add dropout"."""
    trainer, events = train(example("overfit_spiral", {"training": {"epochs": 200}}))
    over = [d for d in diagnoses(events) if d.verdict == "overfitting"]
    assert over and "add_dropout" in {r.id for r in over[-1].remedies}
    assert diagnoses(events)[-1].verdict == "overfitting"  # and it ends so


def test_sgd_at_lr_10_on_the_sine_example_diverges_and_offers_a_lower_lr() -> None:
    """tests/browser/test_training.py: the status reads Diverged, the alert says to lower the lr."""
    trainer, events = train(example("sine", {"training": {"optimizer": "sgd", "lr": 10}}))
    end = events[-1]
    assert isinstance(end, EndEvent) and end.status == "diverged"
    assert end.advice and "Lower the learning rate" in end.advice
    assert diagnoses(events)[-1].verdict == "diverged"
    assert "lower_lr" in {r.id for r in diagnoses(events)[-1].remedies}


DEEP_SIGMOID = {"data": {"dataset": "gaussians", "seed": 1},
                "model": {"layers": [{"type": "dense", "units": 16, "activation": "sigmoid"}] * 8},
                "training": {"optimizer": "sgd", "lr": 0.5, "epochs": 150}}


def test_the_deep_sigmoid_net_flags_vanishing_gradients_and_relu_reaches_good_fit() -> None:
    """tests/browser/test_inside_network_page.py: the first layer is flagged, the head is not, the
    card names vanishing gradients, and the "Switch to ReLU" run reaches a good fit."""
    trainer, events = train(DEEP_SIGMOID)
    insides = [e.data for e in events if isinstance(e, SnapshotEvent) and e.kind == "insides"]
    assert any(s["layers"][0]["flags"] == ["vanishing"] and s["layers"][-1]["flags"] == [] for s in insides)
    vanishing = [d for d in diagnoses(events) if d.cause == "vanishing_gradients"]
    assert vanishing and vanishing[-1].verdict == "underfitting"
    relu = next(r for r in vanishing[-1].remedies if r.id == "use_relu")
    after, events2 = train(apply_patch(trainer.spec, relu.patch).to_json())
    assert "good_fit" in {d.verdict for d in diagnoses(events2)}

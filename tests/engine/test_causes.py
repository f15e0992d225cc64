"""Every cause id, trained for real: its cause and first remedy, and for the lr, vanishing-gradient and
over-regularization cases, that the remedy's run moves towards good_fit. Window means, not last epochs."""

from __future__ import annotations

from typing import Any

import pytest

from engine.causes import CAUSES, THRESHOLDS
from engine.control import Control
from engine.events import DiagnosisEvent, EndEvent, EpochEvent, SnapshotEvent
from engine.spec import apply_patch, parse_spec
from engine.trainer import Trainer


def dense(units: int, act: str = "relu", n: int = 2) -> list[dict[str, Any]]:
    return [{"type": "dense", "units": units, "activation": act}] * n


def train(raw: dict[str, Any], control: Control | None = None, on_epoch=None):
    spec = parse_spec({**raw, "training": {"device": "cpu", **raw.get("training", {})}})
    trainer = Trainer(spec)
    events: list = []

    def emit(e):
        events.append(e)
        if on_epoch and isinstance(e, EpochEvent):
            on_epoch(e.metrics.epoch)

    trainer.run(control=control, emit=emit)
    d = [e.diagnosis for e in events if isinstance(e, DiagnosisEvent)][-1]
    assert isinstance(events[-1], EndEvent) and events[-1].verdict == d.verdict
    return trainer, d, events


def tail_mean(trainer: Trainer, k: int = 10) -> float:
    xs = trainer.history["train_loss"][-k:]
    return sum(xs) / len(xs)


def apply_first(trainer: Trainer, d):
    return apply_patch(trainer.spec, d.remedies[0].patch).to_json()


LR_HIGH = {"data": {"dataset": "spiral", "seed": 1}, "model": {"layers": dense(16)},
           "training": {"optimizer": "sgd", "lr": 50, "epochs": 60}}
LR_LOW = {"data": {"dataset": "circle", "seed": 1}, "model": {"layers": dense(16)},
          "training": {"optimizer": "sgd", "lr": 0.001, "batch_size": 8, "epochs": 60}}
VANISHING = {"data": {"dataset": "gaussians", "seed": 1}, "model": {"layers": dense(16, "sigmoid", 8)},
             "training": {"optimizer": "sgd", "lr": 0.5, "epochs": 60}}
OVER_REG = {"data": {"dataset": "circle", "seed": 1}, "model": {"layers": dense(16)},
            "training": {"l2": 0.03, "epochs": 60}}


@pytest.mark.outcome
def test_lr_50_on_spiral_is_unstable_with_lr_too_high_and_a_tenth_helps():
    trainer, d, _ = train(LR_HIGH)
    # The case: about 17x the constant-guess loss, no NaN. Not "too simple".
    assert d.verdict == "unstable" and d.cause == "lr_too_high"
    assert d.facts["train_loss"] > 5 * trainer.baseline
    ids = [r.id for r in d.remedies]
    assert ids[0] == "lower_lr" and "bigger_model" not in ids and "train_longer" not in ids
    assert apply_patch(trainer.spec, d.remedies[0].patch).training.lr == pytest.approx(5.0)
    after, d2, _ = train(apply_first(trainer, d))
    assert tail_mean(after) < 0.25 * tail_mean(trainer)
    assert d2.verdict != "unstable"


SEEDS = (1, 2, 3)


@pytest.mark.outcome
@pytest.mark.parametrize("seed", SEEDS)
def test_lowering_a_too_high_lr_reaches_good_fit(seed):
    """Moons at SGD lr 20 jumps about; the card's first remedy (lr 2) is a good fit, not only better."""
    trainer, d, _ = train({"data": {"dataset": "moons", "seed": seed}, "model": {"layers": dense(16)},
                           "training": {"optimizer": "sgd", "lr": 20, "epochs": 60}})
    assert d.verdict == "unstable" and d.cause == "lr_too_high" and d.remedies[0].id == "lower_lr"
    after, d2, _ = train(apply_first(trainer, d))
    assert after.spec.training.lr == pytest.approx(2.0)
    assert d2.verdict == "good_fit" and tail_mean(after) < THRESHOLDS["under_ratio"] * after.baseline


@pytest.mark.outcome
@pytest.mark.parametrize("seed", SEEDS)
def test_raising_a_too_low_lr_reaches_good_fit(seed):
    """Circle at SGD lr 0.001 creeps; the card's first remedy (lr 0.01) is a good fit in the same epochs."""
    trainer, d, _ = train({"data": {"dataset": "circle", "seed": seed}, "model": {"layers": dense(16)},
                           "training": {"optimizer": "sgd", "lr": 0.001, "batch_size": 8, "epochs": 100}})
    assert d.verdict == "underfitting" and d.cause == "lr_too_low" and d.remedies[0].id == "raise_lr"
    after, d2, _ = train(apply_first(trainer, d))
    assert after.spec.training.lr == pytest.approx(0.01) and after.spec.training.epochs == 100
    assert d2.verdict == "good_fit" and tail_mean(after) < THRESHOLDS["under_ratio"] * after.baseline


@pytest.mark.outcome
def test_tiny_sgd_steps_are_lr_too_low_and_ten_times_more_helps():
    trainer, d, _ = train(LR_LOW)
    assert d.verdict == "underfitting" and d.cause == "lr_too_low"
    assert d.evidence["update_ratio"] < THRESHOLDS["update_low"]
    assert d.remedies[0].id == "raise_lr" and "lower_lr" not in [r.id for r in d.remedies]
    after, _, _ = train(apply_first(trainer, d))
    assert tail_mean(after) < tail_mean(trainer) - 0.2 * trainer.baseline


@pytest.mark.outcome
def test_eight_sigmoid_layers_have_vanishing_gradients_and_relu_learns():
    trainer, d, events = train(VANISHING)
    assert d.verdict == "underfitting" and d.cause == "vanishing_gradients"
    assert d.evidence["grad_ratio"] < THRESHOLDS["vanish_ratio"]
    assert d.remedies[0].id == "use_relu"
    assert {"add_batchnorm"} <= {r.id for r in d.remedies} and "bigger_model" not in {r.id for r in d.remedies}
    insides = [e.data for e in events if isinstance(e, SnapshotEvent) and e.kind == "insides"][-1]
    assert "vanishing" in insides["layers"][0]["flags"] and insides["layers"][-1]["flags"] == []
    after, d2, _ = train(apply_first(trainer, d))
    assert all(l.activation == "relu" for l in after.spec.model.layers)
    assert d2.verdict == "good_fit" and tail_mean(after) < 0.3 * trainer.baseline


@pytest.mark.outcome
def test_strong_l2_is_over_regularized_and_halving_it_helps():
    trainer, d, _ = train(OVER_REG)
    assert d.verdict == "underfitting" and d.cause == "over_regularized"
    assert d.remedies[0].id == "less_regularization"
    assert {"add_l2", "add_dropout", "bigger_model"}.isdisjoint(r.id for r in d.remedies)
    assert apply_patch(trainer.spec, d.remedies[0].patch).training.l2 == pytest.approx(0.015)
    after, _, _ = train(apply_first(trainer, d))
    assert tail_mean(after) < tail_mean(trainer) - 0.3 * trainer.baseline


@pytest.mark.outcome
def test_l2_raised_during_a_good_run_is_over_regularized():
    control = Control()
    raw = {"data": {"dataset": "circle", "seed": 1}, "model": {"layers": dense(16)}, "training": {"epochs": 80}}
    trainer, d, _ = train(raw, control, lambda e: control.set(l2=0.1) if e == 40 else None)
    assert d.verdict == "underfitting" and d.cause == "over_regularized"
    assert d.evidence["l2_raised"][1] == pytest.approx(0.1) and "l2 went from 0 to 0.1" in d.reason
    # The remedy halves the l2 that is in force, not the spec's 0.
    assert apply_patch(trainer.spec, d.remedies[0].patch).training.l2 == pytest.approx(0.05)


@pytest.mark.outcome
def test_high_dropout_on_narrow_layers_is_over_regularized():
    raw = {"data": {"dataset": "spiral", "seed": 1}, "model": {"layers": [
        {"type": "dense", "units": 8}, {"type": "dropout", "p": 0.6}, {"type": "dense", "units": 8},
        {"type": "dropout", "p": 0.6}]}, "training": {"epochs": 60}}
    trainer, d, _ = train(raw)
    assert d.cause == "over_regularized" and d.evidence["dropout"] == (0.6, 8)
    layers = apply_patch(trainer.spec, d.remedies[0].patch).model.layers
    assert [getattr(l, "p", None) for l in layers if l.type == "dropout"] == [pytest.approx(0.4)] * 2


@pytest.mark.outcome
def test_sgd_lr_10_kills_the_relu_units():
    trainer, d, _ = train({"data": {"dataset": "circle", "seed": 1}, "model": {"layers": dense(16)},
                           "training": {"optimizer": "sgd", "lr": 10, "epochs": 120}})
    assert d.verdict in ("underfitting", "unstable") and d.cause in ("dead_units", "lr_too_high")
    assert "dead_units" in [d.cause, *d.also]
    assert d.remedies[0].id == "lower_lr"


@pytest.mark.outcome
def test_three_sigmoid_layers_at_adam_05_saturate():
    trainer, d, _ = train({"data": {"dataset": "circle", "seed": 1}, "model": {"layers": dense(16, "sigmoid", 3)},
                           "training": {"optimizer": "adam", "lr": 0.5, "epochs": 40}})
    assert d.verdict == "underfitting" and d.cause == "saturation"
    assert d.evidence["saturated"] > THRESHOLDS["saturated_max"]
    assert d.remedies[0].id == "use_relu"
    # Vanishing gradients are its symptom: listed, not named first.
    assert "vanishing_gradients" in d.also


@pytest.mark.outcome
def test_linear_model_on_circle_is_too_small():
    trainer, d, _ = train({"data": {"dataset": "circle", "seed": 1}, "model": {"layers": []},
                           "training": {"epochs": 40}})
    assert d.verdict == "underfitting" and d.cause == "too_small"
    assert d.remedies[0].id == "bigger_model" and d.evidence["hidden"] == 0


@pytest.mark.outcome
def test_fifteen_epochs_of_slow_adam_is_too_short():
    trainer, d, _ = train({"data": {"dataset": "circle", "seed": 1}, "model": {"layers": dense(16)},
                           "training": {"optimizer": "adam", "lr": 0.001, "epochs": 15}})
    assert d.verdict == "underfitting" and d.cause == "too_short"
    assert [r.id for r in d.remedies] == ["train_longer"]


OVERFIT = {"data": {"dataset": "spiral", "n_samples": 60, "noise": 0.3, "seed": 2},
           "model": {"layers": [{"type": "dense", "units": 128}] * 3}, "training": {"epochs": 300}}


@pytest.mark.outcome
def test_big_model_on_few_points_is_memorising():
    trainer, d, _ = train(OVERFIT)
    assert d.verdict == "overfitting" and d.cause == "memorising"
    assert d.remedies[0].id == "early_stopping" and "bigger_model" not in [r.id for r in d.remedies]
    # The self-contradiction: this run's val loss falls at the end, so the reason may not say memorising.
    if d.facts["val_trend_per_10"] > 0:
        assert "memorising" in d.reason
    else:
        assert "memorising" not in d.reason and "still falls" in d.reason


@pytest.mark.outcome
def test_early_stopping_with_restore_best_is_handled():
    raw = {**OVERFIT, "training": {"epochs": 300, "early_stopping": {"patience": 20, "restore_best": True}}}
    trainer, d, events = train(raw)
    assert events[-1].stopped_early
    assert d.verdict == "good_fit" and d.cause == "handled"
    assert f"epoch {trainer.best_epoch}" in d.reason and "kept are from that best epoch" in d.reason
    assert "early_stopping" not in [r.id for r in d.remedies]


EXPLODING = {"data": {"dataset": "sine"}, "model": {"layers": dense(32, "tanh", 8)},
             "training": {"optimizer": "sgd", "lr": 0.8, "batch_size": 512, "epochs": 60}}


@pytest.mark.outcome
@pytest.mark.parametrize("seed", SEEDS)
def test_a_deep_unnormalised_net_at_full_batch_sgd_explodes(seed):
    """Eight tanh layers, no normalisation, full-batch SGD at lr 0.8: the gradient norms grow a
    thousandfold and more over a few epochs before the loss blows up (full batch: no shuffling, so
    the growth is the same on every CPU kernel). Measured: the insides' record at the blow-up."""
    raw = {**EXPLODING, "data": {**EXPLODING["data"], "seed": seed}}
    trainer, d, events = train(raw)
    assert d.verdict == "diverged" and d.cause == "exploding_gradients"
    assert d.evidence["grad_growth"] > THRESHOLDS["explode_growth"]
    assert "lr_too_high" in d.also and "grew" in d.reason
    insides = [e.data for e in events if isinstance(e, SnapshotEvent) and e.kind == "insides"][-1]
    assert insides["epochs"][-1] == trainer.epoch  # the record at the blow-up, on finite weights
    grads = [l["grad_norm"] for l in insides["layers"]]
    assert max(g[-1] / g[0] for g in grads if g[0]) == pytest.approx(d.evidence["grad_growth"], rel=0.01)
    ids = [r.id for r in d.remedies]
    assert ids[0] == "lower_lr" and "add_batchnorm" in ids and "train_longer" not in ids
    after, d2, _ = train(apply_first(trainer, d))
    assert d2.verdict != "diverged" and tail_mean(after) < 0.75 * after.baseline  # it learns


def test_exploding_gradients_from_insides_growth():
    """The rule on a synthetic record of growing first-layer gradients."""
    from engine.causes import evidence, find

    facts = {"window": 3, "baseline_loss": 0.69, "train_loss": 0.7, "train_trend_per_10": 0.0}
    ins = {"epochs": [1, 2, 3], "loss": [0.7] * 3, "penalty": [0.0] * 3, "l2": [0.0] * 3, "layers": [
        {"name": "dense 1", "activation": "linear", "grad_norm": [1.0, 50.0, 5e3], "weight_norm": [1.0] * 3,
         "update_ratio": [0.01] * 3, "dead": [None] * 3, "saturated": [None] * 3},
        {"name": "output", "activation": None, "grad_norm": [1.0, 2.0, 3.0], "weight_norm": [1.0] * 3,
         "update_ratio": [0.01] * 3, "dead": [None] * 3, "saturated": [None] * 3}]}
    spec = parse_spec({"data": {"dataset": "circle"}, "model": {"layers": dense(4, "linear", 1)},
                       "training": {"optimizer": "sgd"}})
    ranked = find(evidence("underfitting", facts, {"train_loss": [0.7] * 12}, spec, ins))
    assert ranked[0][0].id == "exploding_gradients"
    assert ranked[0][0].remedies(spec, evidence("underfitting", facts, {}, spec, ins))[0].id == "lower_lr"

"""The diagnosis: the four required cases trained for real, then diagnose() on synthetic histories."""

from __future__ import annotations

import math
from statistics import mean
from typing import Any

import pytest

from engine.diagnosis import GAP_LARGE, GAP_MIN, MIN_EPOCHS, UNDER_RATIO, diagnose
from engine.errors import SpecError
from engine.events import DiagnosisEvent, EndEvent
from engine.shapes import infer
from engine.spec import ExperimentSpec, apply_patch, parse_spec
from engine.trainer import Trainer

L0 = math.log(2)  # the constant-guess loss of a balanced two-class problem


def train(raw: dict[str, Any]) -> tuple[Trainer, list]:
    spec = parse_spec({**raw, "training": {"device": "cpu", **raw.get("training", {})}})
    trainer = Trainer(spec)
    events: list = []
    trainer.run(emit=events.append)
    return trainer, events


def final(events: list):
    diagnoses = [e.diagnosis for e in events if isinstance(e, DiagnosisEvent)]
    end = events[-1]
    assert isinstance(end, EndEvent)
    assert diagnoses and end.verdict == diagnoses[-1].verdict
    return diagnoses[-1], end


def assert_remedies_are_valid(spec: ExperimentSpec, remedies) -> None:
    """Each remedy is a merge patch that yields a different spec that validates and infers."""
    for r in remedies:
        patched = apply_patch(spec, r.patch)
        infer(patched)
        assert patched != spec, r.id
        assert r.label and r.why


# -- the four required cases, trained for real -----------------------------------------------------
@pytest.mark.outcome
def test_linear_model_on_circle_underfits():
    trainer, events = train({"data": {"dataset": "circle", "seed": 1}, "model": {"layers": []},
                             "training": {"epochs": 40}})
    d, end = final(events)
    assert end.status == "finished" and d.verdict == "underfitting"
    # A line cannot separate a disc from a ring: the loss stays near the constant guess.
    assert d.facts["train_loss"] > UNDER_RATIO * trainer.baseline
    assert [r.id for r in d.remedies][:1] in (["bigger_model"], ["train_longer"])
    assert "bigger_model" in {r.id for r in d.remedies}
    assert_remedies_are_valid(trainer.spec, d.remedies)


@pytest.mark.outcome
def test_big_network_on_few_noisy_spiral_points_overfits():
    trainer, events = train({
        "data": {"dataset": "spiral", "n_samples": 60, "noise": 0.3, "seed": 2},
        "model": {"layers": [{"type": "dense", "units": 128}] * 3},
        "training": {"epochs": 300}})
    d, end = final(events)
    assert end.status == "finished" and end.epochs == 300
    assert d.verdict == "overfitting"
    h = trainer.history
    # It learned the 42 training points far better than it generalises. The end of this run is
    # chaotic (train loss swings between about 0.15 and 0.5 from one epoch to the next, and how
    # depends on the CPU's float kernels), so the claims are on the run's best and on window means.
    last = slice(-50, None)
    assert min(h["train_loss"]) < 0.5 * trainer.baseline
    assert 2 * trainer.baseline < mean(h["val_loss"][last])
    assert 4 * mean(h["train_loss"][last]) < mean(h["val_loss"][last])
    assert mean(h["train_acc"][last]) > mean(h["val_acc"][last]) + 0.2
    # Val loss bottoms out early, then climbs: the overfitting picture.
    assert h["val_loss"].index(min(h["val_loss"])) < 50
    ids = [r.id for r in d.remedies]
    assert {"early_stopping", "add_dropout", "add_l2", "more_data", "smaller_model"} <= set(ids)
    assert_remedies_are_valid(trainer.spec, d.remedies)


@pytest.mark.outcome
def test_small_network_on_enough_circle_points_fits_well():
    # At noise 0.1 the disc and ring barely overlap; at the default 0.2 this spec's gap sits on the
    # overfitting threshold and the verdict depends on the data seed.
    trainer, events = train({
        "data": {"dataset": "circle", "n_samples": 600, "noise": 0.1, "seed": 7},
        "model": {"layers": [{"type": "dense", "units": 16}] * 2},
        "training": {"epochs": 100}})
    d, end = final(events)
    assert end.status == "finished" and d.verdict == "good_fit"
    assert abs(d.facts["gap"]) < GAP_MIN * trainer.baseline
    assert mean(trainer.history["val_acc"][-10:]) > 0.95
    assert_remedies_are_valid(trainer.spec, d.remedies)


@pytest.mark.outcome
def test_huge_sgd_learning_rate_diverges():
    trainer, events = train({"data": {"dataset": "circle", "seed": 3},
                             "model": {"layers": [{"type": "dense", "units": 16}] * 2},
                             "training": {"optimizer": "sgd", "lr": 1e6, "epochs": 50}})
    d, end = final(events)
    assert end.status == "diverged" and d.verdict == "diverged"
    assert end.epochs < 50
    assert end.advice and "learning rate" in end.advice
    for column, values in trainer.history.items():
        assert all(v is None or math.isfinite(v) for v in values), column  # NaN/inf never recorded
    ids = [r.id for r in d.remedies]
    assert ids[0] == "lower_lr" and "use_adam" in ids
    assert apply_patch(trainer.spec, d.remedies[0].patch).training.lr == pytest.approx(1e5)
    assert_remedies_are_valid(trainer.spec, d.remedies)


# -- diagnose() on synthetic histories -----------------------------------------------------------
def _spec(layers: list[dict] | None = None, **patch: Any) -> ExperimentSpec:
    raw: dict[str, Any] = {"data": {"dataset": "circle", "n_samples": 400},
                           "model": {"layers": [{"type": "dense", "units": 16}] * 2 if layers is None else layers}}
    for section, value in patch.items():
        raw[section] = {**raw.get(section, {}), **value}
    return parse_spec(raw)


def _hist(train: list[float], val: list[float]) -> dict[str, list]:
    return {"train_loss": train, "val_loss": val}


def _decay(start: float, end: float, n: int) -> list[float]:
    return [end + (start - end) * math.exp(-i / 5) for i in range(n)]


def test_too_early_below_ten_epochs():
    spec = _spec()
    for n in range(1, MIN_EPOCHS):
        d = diagnose(_hist([0.6] * n, [0.9] * n), spec, L0)
        assert d.verdict == "too_early" and d.remedies == [] and str(n) in d.reason
    d = diagnose(_hist([0.6] * MIN_EPOCHS, [0.6] * MIN_EPOCHS), spec, L0)
    assert d.verdict != "too_early"


def test_tiny_absolute_gap_is_not_overfitting():
    # Val loss is four times train loss and rising, but both are tiny next to the constant guess.
    n = 60
    train = _decay(0.7, 0.001, n)
    val = [v + 0.003 + 0.00005 * i for i, v in enumerate(_decay(0.7, 0.001, n))]
    d = diagnose(_hist(train, val), _spec(), L0)
    assert d.verdict == "good_fit"
    assert d.facts["val_loss"] > 3 * d.facts["train_loss"]


def test_gap_with_rising_val_loss_is_overfitting_and_the_reason_quotes_numbers():
    n = 100
    train = [0.5 - 0.0045 * i for i in range(n)]  # ends near 0.05
    val = [0.5 - 0.01 * i if i < 30 else 0.21 + 0.005 * (i - 29) for i in range(n)]  # lowest at epoch 30
    d = diagnose(_hist(train, val), _spec(), L0)
    assert d.verdict == "overfitting"
    w = 10
    train_end, val_end = sum(train[-w:]) / w, sum(val[-w:]) / w
    assert d.facts["train_loss"] == pytest.approx(train_end)
    assert d.facts["val_loss"] == pytest.approx(val_end)
    assert d.facts["val_min_epoch"] == 30
    assert "After 100 epochs" in d.reason and "last 10" in d.reason
    assert f"{train_end:.3g}" in d.reason and f"{val_end:.3g}" in d.reason
    assert "epoch 30" in d.reason and f"{min(val):.3g}" in d.reason
    assert f"{(val_end - train_end) / L0:.0%}" in d.reason
    assert [r.id for r in d.remedies][0] == "early_stopping"


def test_large_gap_alone_is_overfitting():
    n = 40
    train = [0.05] * n
    val = [0.05 + (GAP_LARGE + 0.05) * L0] * n  # flat: no rise from the minimum
    assert diagnose(_hist(train, val), _spec(), L0).verdict == "overfitting"
    val = [0.05 + (GAP_LARGE - 0.05) * L0] * n
    assert diagnose(_hist(train, val), _spec(), L0).verdict == "good_fit"


def test_flat_high_loss_is_underfitting_with_bigger_model_first():
    n = 50
    d = diagnose(_hist([0.66] * n, [0.67] * n), _spec(), L0)
    assert d.verdict == "underfitting"
    assert [r.id for r in d.remedies] == ["bigger_model", "train_longer"]
    assert "flattened" in d.reason and f"{0.66 / L0:.0%}" in d.reason


def test_still_falling_high_loss_puts_train_longer_first():
    n = 50
    train = [0.69 - 0.002 * i for i in range(n)]
    d = diagnose(_hist(train, [t + 0.01 for t in train]), _spec(), L0)
    assert d.verdict == "underfitting"
    assert [r.id for r in d.remedies][0] == "train_longer" and "still falling" in d.reason
    assert apply_patch(_spec(), d.remedies[0].patch).training.epochs == 400


def test_missing_loss_is_diverged_at_its_epoch():
    train = [0.6, 0.5, 0.4, None]
    d = diagnose(_hist(train, [0.6, 0.5, 0.4, None]), _spec(training={"optimizer": "adam"}), L0)
    assert d.verdict == "diverged" and "epoch 4" in d.reason
    assert [r.id for r in d.remedies] == ["lower_lr"]  # already on Adam: no switch offered
    d = diagnose(_hist([0.6] * 20, [0.6] * 20), _spec(), L0, status="diverged")
    assert d.verdict == "diverged"


REMEDY_SPECS = {
    "linear": _spec([]),
    "dense": _spec(),
    "dense_with_dropout": _spec([{"type": "dense", "units": 32}, {"type": "dropout", "p": 0.2},
                                 {"type": "dense", "units": 8}]),
    "cnn": parse_spec({"data": {"dataset": "digits", "n_samples": 300}, "model": {"layers": [
        {"type": "conv2d", "filters": 8}, {"type": "maxpool2d"}, {"type": "flatten"}, {"type": "dense", "units": 32}]}}),
    "partial_data_with_early_stopping": _spec(data={"train_fraction": 0.5},
                                              training={"early_stopping": {"patience": 5}, "l2": 0.01}),
    "sine": parse_spec({"data": {"dataset": "sine"}, "model": {"layers": [{"type": "dense", "units": 64}] * 2}}),
    # Doubling these units would pass the parameter cap: the remedy must not be offered.
    "near_the_param_cap": _spec([{"type": "dense", "units": 1024}] * 3),
}

SYNTHETIC = {
    "overfitting": _hist([0.5 - 0.0045 * i for i in range(100)],
                         [0.5 - 0.01 * i if i < 30 else 0.2 + 0.005 * (i - 29) for i in range(100)]),
    "underfitting": _hist([0.66] * 50, [0.67] * 50),
    "good_fit": _hist(_decay(0.7, 0.05, 60), _decay(0.7, 0.06, 60)),
    "diverged": _hist([0.6, None], [0.6, None]),
}


@pytest.mark.parametrize("verdict", list(SYNTHETIC))
@pytest.mark.parametrize("name", list(REMEDY_SPECS))
def test_remedies_are_valid_patches(name, verdict):
    spec = REMEDY_SPECS[name]
    d = diagnose(SYNTHETIC[verdict], spec, L0)
    assert d.verdict == verdict
    assert_remedies_are_valid(spec, d.remedies)
    assert len({r.id for r in d.remedies}) == len(d.remedies)
    if verdict in ("overfitting", "diverged"):
        assert d.remedies  # always something to try


def test_remedy_details():
    over = SYNTHETIC["overfitting"]
    d = diagnose(over, REMEDY_SPECS["dense_with_dropout"], L0)
    dropout = next(r for r in d.remedies if r.id == "add_dropout")
    layers = apply_patch(REMEDY_SPECS["dense_with_dropout"], dropout.patch).model.layers
    assert [(l.type, getattr(l, "p", None)) for l in layers] == [
        ("dense", None), ("dropout", 0.3), ("dense", None), ("dropout", 0.2)]
    d = diagnose(over, REMEDY_SPECS["partial_data_with_early_stopping"], L0)
    ids = {r.id: r for r in d.remedies}
    assert "early_stopping" not in ids  # already on
    assert apply_patch(REMEDY_SPECS["partial_data_with_early_stopping"], ids["more_data"].patch).data.train_fraction == 1.0
    assert apply_patch(REMEDY_SPECS["partial_data_with_early_stopping"], ids["add_l2"].patch).training.l2 == pytest.approx(0.1)
    linear = diagnose(SYNTHETIC["underfitting"], REMEDY_SPECS["linear"], L0)
    bigger = apply_patch(REMEDY_SPECS["linear"], linear.remedies[0].patch)
    assert len(bigger.model.layers) == 2
    capped = diagnose(SYNTHETIC["underfitting"], REMEDY_SPECS["near_the_param_cap"], L0)
    assert [r.id for r in capped.remedies] == ["train_longer"]


def test_an_invalid_remedy_patch_would_be_caught():
    """The helper above really validates: a patch past the cap raises."""
    with pytest.raises(SpecError):
        infer(apply_patch(_spec(), {"model": {"layers": [{"type": "dense", "units": 4096}] * 3}}))


def test_a_gap_over_gap_large_is_overfitting_even_with_high_train_loss():
    # The case: a gap of 32% of L0 was called underfitting by a condition the docs did not state.
    n = 40
    train = [0.5 * L0] * n  # above under_ratio x L0
    d = diagnose(_hist(train, [t + 0.32 * L0 for t in train]), _spec(), L0)
    assert d.verdict == "overfitting" and d.cause == "memorising"
    d = diagnose(_hist(train, [t + 0.28 * L0 for t in train]), _spec(), L0)
    assert d.verdict == "underfitting"  # flat val loss, no rise: below gap_large it needs the rise


def test_stopped_early_with_restore_best_is_handled_not_overfitting():
    n = 60
    train = [0.5 - 0.007 * i for i in range(n)]
    val = [0.5 - 0.01 * i if i < 30 else 0.21 + 0.01 * (i - 29) for i in range(n)]
    es = _spec(training={"early_stopping": {"patience": 30, "restore_best": True}})
    d = diagnose(_hist(train, val), es, L0, stopped_early=True)
    assert d.verdict == "good_fit" and d.cause == "handled" and d.remedies == []
    assert "epoch 30" in d.reason and "best epoch" in d.reason
    no_restore = _spec(training={"early_stopping": {"patience": 30, "restore_best": False}})
    assert diagnose(_hist(train, val), no_restore, L0, stopped_early=True).verdict == "overfitting"

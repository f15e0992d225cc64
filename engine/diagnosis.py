"""The diagnosis: a pure function of a run's history (and its spec, for the remedies).

The rule, with L0 = the loss of the best constant prediction on the training labels
(class-prior entropy for classification, the variance of y for regression), and
"end" = the mean of the last w = max(3, n // 10) epochs:

  diverged      the run diverged, or a loss is missing (NaN/inf are never recorded).
  too_early     fewer than MIN_EPOCHS epochs.
  overfitting   gap = val_end - train_end exceeds GAP_MIN * L0; val loss has not reached a new
                minimum for max(STALE_MIN, STALE_SHARE * n) epochs; and either it has risen from that
                minimum by more than RISE_MIN * L0 or the gap exceeds GAP_LARGE * L0. A gap below
                GAP_MIN * L0 is never overfitting, however large it is in relative terms; a plateau
                that val loss is still improving through is not either.
  underfitting  train_end exceeds UNDER_RATIO * L0: the model explains less than about half of what a
                constant guess leaves unexplained.
  good_fit      otherwise.

Each remedy is a JSON merge patch for the spec (lists are replaced whole).
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from .events import Diagnosis, Remedy
from .spec import ExperimentSpec, Limits

MIN_EPOCHS = 10
GAP_MIN = 0.10
GAP_LARGE = 0.30
STALE_MIN = 10
STALE_SHARE = 0.2
RISE_MIN = 0.05
UNDER_RATIO = 0.45
# A remedy never asks for more than the default caps allow (a server may set them lower; `_keep` checks).
MAX_EPOCHS_REMEDY = Limits().max_epochs
MAX_SAMPLES_REMEDY = Limits().max_samples
SIZED = {"dense": "units", "conv2d": "filters", "rnn": "units", "lstm": "units", "gru": "units"}


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _slope(ys: Sequence[float]) -> float:
    """Least-squares slope per epoch."""
    n = len(ys)
    if n < 2:
        return 0.0
    mx = (n - 1) / 2
    my = _mean(ys)
    num = sum((i - mx) * (y - my) for i, y in enumerate(ys))
    den = sum((i - mx) ** 2 for i in range(n))
    return num / den


def _f(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.3e}"


# -- remedies: each returns a Remedy or None when it does not apply -------------------------------
def _layers(spec: ExperimentSpec) -> list[dict[str, Any]]:
    return spec.to_json()["model"]["layers"]


def add_dropout(spec: ExperimentSpec) -> Optional[Remedy]:
    layers = _layers(spec)
    if not any(l["type"] in SIZED for l in layers):
        return None
    out: list[dict[str, Any]] = []
    raised = False
    for i, layer in enumerate(layers):
        if layer["type"] == "dropout":
            layer = {**layer, "p": round(min(0.5, layer["p"] + 0.1), 2)}
            raised = True
        out.append(layer)
        nxt = layers[i + 1]["type"] if i + 1 < len(layers) else None
        if layer["type"] in ("dense",) and nxt != "dropout":
            out.append({"type": "dropout", "p": 0.2})
    if out == layers:
        return None
    what = "raise dropout by 0.1" if raised and len(out) == len(layers) else "add dropout p=0.2 after each dense layer"
    return Remedy("add_dropout", "Add dropout", f"Randomly silencing units stops them co-adapting: {what}.",
                  {"model": {"layers": out}})


def add_l2(spec: ExperimentSpec) -> Remedy:
    l2 = spec.training.l2
    new = 1e-3 if l2 == 0 else min(1.0, l2 * 10)
    return Remedy("add_l2", f"L2 = {new:g}", "Penalising large weights gives a smoother function.",
                  {"training": {"l2": new}})


def early_stopping(spec: ExperimentSpec, n: int) -> Optional[Remedy]:
    if spec.training.early_stopping is not None:
        return None
    patience = max(10, n // 10)
    return Remedy("early_stopping", f"Early stopping (patience {patience})",
                  "Stop when validation loss stops improving and keep the best weights.",
                  {"training": {"early_stopping": {"patience": patience, "min_delta": 0.0, "restore_best": True}}})


def more_data(spec: ExperimentSpec) -> Optional[Remedy]:
    from .datasets import DATASETS

    d = spec.data
    if d.train_fraction < 1.0:
        return Remedy("more_data", "Use all the training data",
                      f"Only {d.train_fraction:.0%} of the training split is used.", {"data": {"train_fraction": 1.0}})
    if d.dataset not in DATASETS:
        return None  # supplied data (an upload): there is no more of it to generate
    ds = DATASETS.get(d.dataset)
    n = ds.sample_count(d)
    cap = min(ds.max_samples or MAX_SAMPLES_REMEDY, MAX_SAMPLES_REMEDY)
    if n >= cap:
        return None
    new = min(cap, n * 2)
    return Remedy("more_data", f"More data ({new} samples)", "More examples make memorising harder than learning.",
                  {"data": {"n_samples": new}})


def resize_model(spec: ExperimentSpec, factor: float) -> Optional[Remedy]:
    layers = _layers(spec)
    bigger = factor > 1
    if not layers and bigger:
        new = [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense", "units": 16, "activation": "relu"}]
        return Remedy("bigger_model", "Add two hidden layers", "A linear model cannot bend its boundary.",
                      {"model": {"layers": new}})
    out = []
    changed = False
    for layer in layers:
        key = SIZED.get(layer["type"])
        if key:
            size = max(2, min(4096, int(round(layer[key] * factor))))
            changed |= size != layer[key]
            layer = {**layer, key: size}
        out.append(layer)
    if not changed:
        return None
    if bigger:
        return Remedy("bigger_model", "Bigger model (2x units)", "More capacity to fit the training data.",
                      {"model": {"layers": out}})
    return Remedy("smaller_model", "Smaller model (half the units)", "Less capacity leaves less room to memorise noise.",
                  {"model": {"layers": out}})


def train_longer(spec: ExperimentSpec) -> Optional[Remedy]:
    e = spec.training.epochs
    if e >= MAX_EPOCHS_REMEDY:
        return None
    new = min(MAX_EPOCHS_REMEDY, e * 2)
    return Remedy("train_longer", f"Train longer ({new} epochs)", "The training loss is still falling.",
                  {"training": {"epochs": new}})


def lower_lr(spec: ExperimentSpec) -> Remedy:
    new = float(f"{spec.training.lr / 10:.3g}")
    return Remedy("lower_lr", f"Lower learning rate ({new:g})", "Smaller steps stop the updates overshooting.",
                  {"training": {"lr": new}})


def _keep(spec: ExperimentSpec, *rs: Optional[Remedy]) -> list[Remedy]:
    """The remedies that apply and whose patched spec is still valid: doubling a large model's units
    can pass the parameter cap, and a button that only produces an error is no remedy."""
    from .errors import SpecError
    from .shapes import infer
    from .spec import apply_patch

    out = []
    for r in rs:
        if r is None:
            continue
        try:
            infer(apply_patch(spec, r.patch))
        except SpecError:
            continue
        out.append(r)
    return out


# -- the verdict --------------------------------------------------------------------------------------
def diagnose(history: dict[str, list], spec: ExperimentSpec, baseline: float,
             status: Optional[str] = None, best_epoch: Optional[int] = None) -> Diagnosis:
    """The verdict, the reason with its numbers, and the remedies (see the module docstring)."""
    train = history.get("train_loss", [])
    val = history.get("val_loss", [])
    n = len(train)
    if status == "diverged" or any(v is None or not math.isfinite(v) for v in train + val):
        at = next((i + 1 for i, (a, b) in enumerate(zip(train, val)) if a is None or b is None), n)
        rems = [lower_lr(spec)]
        if spec.training.optimizer in ("sgd", "momentum"):
            rems.append(Remedy("use_adam", "Switch to Adam", "Adam adapts its step size per weight.",
                               {"training": {"optimizer": "adam", "lr": 0.01}}))
        return Diagnosis("diverged", f"The loss became NaN, infinite or exploded at epoch {at} with lr "
                         f"{_f(spec.training.lr)}: the updates overshoot. Lower the learning rate.",
                         rems, n, {"epoch": at})
    if n < MIN_EPOCHS:
        return Diagnosis("too_early", f"Only {n} epoch{'s' if n != 1 else ''} so far; a verdict needs "
                         f"{MIN_EPOCHS}.", [], n, {})
    w = max(3, n // 10)
    train_end, val_end = _mean(train[-w:]), _mean(val[-w:])
    val_min = min(val)
    at_min = val.index(val_min) + 1
    l0 = max(baseline, 1e-8)
    gap = val_end - train_end
    rise = val_end - val_min
    trend = _slope(val[-w:]) * 10
    train_trend = _slope(train[-w:]) * 10
    facts = {"epochs": n, "window": w, "train_loss": train_end, "val_loss": val_end, "gap": gap,
             "val_min": val_min, "val_min_epoch": at_min, "val_trend_per_10": trend,
             "baseline_loss": baseline, "best_epoch": best_epoch}
    nums = (f"After {n} epochs, train loss {_f(train_end)} and val loss {_f(val_end)} "
            f"(mean of the last {w}); gap {_f(gap)}, {gap / l0:.0%} of the constant-guess loss {_f(l0)}. ")
    trend_s = f"val loss {'rises' if trend > 0 else 'falls'} {_f(abs(trend))} per 10 epochs"

    stale = n - at_min >= max(STALE_MIN, int(STALE_SHARE * n))
    if gap > GAP_MIN * l0 and stale and (rise > RISE_MIN * l0 or gap > GAP_LARGE * l0):
        reason = nums + (f"Val loss was lowest ({_f(val_min)}) at epoch {at_min} and {trend_s}: "
                         "the model is memorising the training set.")
        return Diagnosis("overfitting", reason, _keep(
            spec, early_stopping(spec, n), add_dropout(spec), add_l2(spec), more_data(spec),
            resize_model(spec, 0.5)), n, facts)
    if train_end > UNDER_RATIO * l0:
        still = train_trend < -0.01 * l0
        reason = nums + (f"Train loss is still {train_end / l0:.0%} of the constant-guess loss: the model is "
                         "too simple or not trained enough" + ("; train loss is still falling." if still else
                                                                 ", and train loss has flattened."))
        rems = _keep(spec, resize_model(spec, 2.0), train_longer(spec))
        if still:
            rems.reverse()
        return Diagnosis("underfitting", reason, rems, n, facts)
    reason = nums + f"Train and val loss are close and low; {trend_s}."
    return Diagnosis("good_fit", reason, _keep(spec, early_stopping(spec, n)), n, facts)

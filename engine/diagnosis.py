"""The diagnosis: a pure function of a run's history, its insides and its spec.

The verdict, with L0 = the loss of the best constant prediction on the training labels
(class-prior entropy for classification, the variance of y for regression), "end" = the mean of
the last w = max(3, n // 10) epochs, and the thresholds of engine/causes.py's THRESHOLDS:

  diverged      the run diverged, or a loss is missing (NaN/inf are never recorded).
  too_early     fewer than min_epochs epochs.
  unstable      train_end > unstable_ratio * L0 and train loss is not falling steadily (see
                causes.falling_steadily): far worse than a constant guess, no progress.
  overfitting   gap = val_end - train_end > gap_large * L0; or gap > gap_min * L0, val loss has risen
                more than rise_min * L0 above its minimum, and that minimum is at least
                max(stale_min, stale_share * n) epochs old. With early stopping and restore_best that
                triggered, the kept weights are the best epoch's: good_fit with cause `handled`.
  underfitting  train_end > under_ratio * L0.
  good_fit      otherwise.

Then the cause (engine/causes.py): the strongest of the registered causes that explain the
verdict, with the others listed; the remedies follow the cause.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from .causes import CAUSES, THRESHOLDS as T, Evidence, evidence, falling_steadily, find, g, remedies_for, roughness
from .events import Diagnosis
from .remedies import early_stopping, keep
from .spec import ExperimentSpec

MIN_EPOCHS = int(T["min_epochs"])
GAP_MIN = T["gap_min"]
GAP_LARGE = T["gap_large"]
UNDER_RATIO = T["under_ratio"]


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


def _with_cause(verdict: str, lead: str, facts: dict[str, Any], history: dict[str, list],
                spec: ExperimentSpec, insides: Optional[dict[str, Any]], n: int) -> Diagnosis:
    """Name the strongest cause of `verdict`, list the others, and offer the remedies that follow."""
    ev = evidence(verdict, facts, history, spec, insides)
    ranked = find(ev)
    if not ranked:
        return Diagnosis(verdict, lead, [], n, facts)
    causes = [c for c, _ in ranked]
    first = causes[0]
    reason = f"{lead}{first.title}: {first.explain(ev)}."
    also = [c.id for c in causes[1:]]
    if also:
        reason += " Also: " + "; ".join(f"{c.title.lower()} ({c.explain(ev)})" for c in causes[1:]) + "."
    return Diagnosis(verdict, reason, remedies_for(spec, ev, causes), n, facts, cause=first.id,
                     evidence=first.evidence(ev), also=also)


def _diverged(history: dict[str, list], spec: ExperimentSpec, baseline: float,
              insides: Optional[dict[str, Any]]) -> Diagnosis:
    train, val = history.get("train_loss", []), history.get("val_loss", [])
    n = len(train)
    at = next((i + 1 for i, (a, b) in enumerate(zip(train, val)) if a is None or b is None), n)
    facts = {"epochs": n, "epoch": at, "baseline_loss": baseline}
    lead = (f"The loss became NaN, infinite or exploded at epoch {at} with lr {g(spec.training.lr)}. ")
    return _with_cause("diverged", lead, facts, history, spec, insides, n)


def _overfitting(facts: dict[str, Any], history: dict[str, list], spec: ExperimentSpec,
                 nums: str, stopped_early: bool) -> Diagnosis:
    n, l0 = facts["epochs"], max(facts["baseline_loss"], 1e-8)
    train, val = history["train_loss"], history["val_loss"]
    es = spec.training.early_stopping
    at_min, trend = facts["val_min_epoch"], facts["val_trend_per_10"]
    if stopped_early and es is not None and es.restore_best:
        best_gap = val[at_min - 1] - train[at_min - 1]
        if best_gap <= GAP_LARGE * l0:
            reason = (f"Early stopping stopped the run at epoch {n}, {n - at_min} epochs after val loss was "
                      f"lowest ({g(facts['val_min'])}) at epoch {at_min}. The weights kept are from that best "
                      f"epoch (gap there {g(best_gap)}, {best_gap / l0:.0%} of L0), so the overfitting that "
                      "followed was handled.")
            return Diagnosis("good_fit", reason, [], n, facts, cause="handled",
                             evidence={"best_epoch": at_min, "val_loss": facts["val_min"], "gap": best_gap})
    cause = CAUSES.get("memorising")
    if trend > 0:
        tail = (f"Val loss was lowest ({g(facts['val_min'])}) at epoch {at_min} and now rises {g(trend)} per "
                "10 epochs: the model is memorising the training set.")
    else:
        tail = (f"Val loss still falls {g(-trend)} per 10 epochs (lowest {g(facts['val_min'])} at epoch "
                f"{at_min}), but the gap is over {GAP_LARGE:.0%} of the constant-guess loss: the model fits "
                "the training points far better than new ones.")
    ev = {"gap": facts["gap"], "gap_share": facts["gap"] / l0, "val_trend_per_10": trend,
          "val_min_epoch": at_min}
    return Diagnosis("overfitting", nums + tail, remedies_for(spec, Evidence("overfitting", l0, n), [cause]), n, facts,
                     cause="memorising", evidence=ev)


def _is_overfitting(gap: float, rise: float, stale: bool, l0: float) -> bool:
    return gap > GAP_LARGE * l0 or (gap > GAP_MIN * l0 and rise > T["rise_min"] * l0 and stale)


# -- an ensemble's seed spread --------------------------------------------------------------------
SPREAD_COLUMN = "val_loss_sd"  # the seed-to-seed spread the gap is measured against


def seed_spread(d: Diagnosis, history: dict[str, list], spec: ExperimentSpec) -> Diagnosis:
    """An ensemble's verdict also says whether its train/validation gap (of the mean curves) is larger
    than the seed-to-seed spread: the sd of the validation loss across the K seeds, mean of the same
    window. A gap within it is not significant; one several times over it is not noise."""
    k = spec.training.seeds
    sd = history.get(SPREAD_COLUMN) or []
    w, gap = d.facts.get("window"), d.facts.get("gap")
    if k < 2 or w is None or gap is None or len(sd) < w or any(v is None for v in sd[-w:]):
        return d
    spread = _mean(sd[-w:])
    d.facts.update({"seeds": k, "seed_spread": spread, "gap_over_spread": gap / spread if spread > 0 else None})
    if abs(gap) <= spread:
        tail = (f"Over {k} seeds the gap {g(gap)} is within the seed spread {g(spread)} (the sd of the val loss "
                "across seeds): not significant.")
    elif gap > 0:
        times = f"{gap / spread:.0f}× " if spread > 0 else "larger than "
        what = "real overfitting, not noise" if d.verdict == "overfitting" else "a real gap, not noise"
        tail = (f"Over {k} seeds the gap {g(gap)} is {times}the seed spread {g(spread)} (the sd of the val loss "
                f"across seeds): {what}.")
    else:
        tail = (f"Over {k} seeds the val loss is below the train loss by more than the seed spread {g(spread)}.")
    d.reason = f"{d.reason} {tail}"
    return d


# -- the verdict --------------------------------------------------------------------------------------
def diagnose(history: dict[str, list], spec: ExperimentSpec, baseline: float,
             status: Optional[str] = None, best_epoch: Optional[int] = None,
             insides: Optional[dict[str, Any]] = None, stopped_early: bool = False) -> Diagnosis:
    """The verdict, its cause, the reason with its numbers, and the remedies (see the module docstring);
    for an ensemble, whether the gap stands out of the seed spread (seed_spread)."""
    d = _diagnose(history, spec, baseline, status, best_epoch, insides, stopped_early)
    return seed_spread(d, history, spec)


def _diagnose(history: dict[str, list], spec: ExperimentSpec, baseline: float, status: Optional[str],
              best_epoch: Optional[int], insides: Optional[dict[str, Any]], stopped_early: bool) -> Diagnosis:
    train = history.get("train_loss", [])
    val = history.get("val_loss", [])
    n = len(train)
    if status == "diverged" or any(v is None or not math.isfinite(v) for v in train + val):
        return _diverged(history, spec, baseline, insides)
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
             "train_trend_per_10": train_trend, "baseline_loss": baseline, "best_epoch": best_epoch}
    nums = (f"After {n} epochs, train loss {g(train_end)} and val loss {g(val_end)} "
            f"(mean of the last {w}); gap {g(gap)}, {gap / l0:.0%} of the constant-guess loss {g(l0)}. ")
    trend_s = f"val loss {'rises' if trend > 0 else 'falls'} {g(abs(trend))} per 10 epochs"

    if train_end > T["unstable_ratio"] * l0 and not falling_steadily(train_trend, roughness(train, w), l0):
        lead = (f"After {n} epochs the train loss is {g(train_end)}, {train_end / l0:.0%} of the constant-guess "
                f"loss {g(l0)}, and not falling steadily: the network is making no progress. ")
        return _with_cause("unstable", lead, facts, history, spec, insides, n)
    stale = n - at_min >= max(T["stale_min"], int(T["stale_share"] * n))
    if _is_overfitting(gap, rise, stale, l0):
        return _overfitting(facts, history, spec, nums, stopped_early)
    if train_end > UNDER_RATIO * l0:
        lead = nums + f"Train loss is still {train_end / l0:.0%} of the constant-guess loss. "
        return _with_cause("underfitting", lead, facts, history, spec, insides, n)
    reason = nums + f"Train and val loss are close and low; {trend_s}."
    return Diagnosis("good_fit", reason, keep(spec, early_stopping(spec, n)), n, facts)

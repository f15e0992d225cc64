"""Causes: why a run under- or overfits, or cannot learn. A registry; each cause has a rule and remedies.

Every threshold the diagnosis applies is in THRESHOLDS, here and nowhere else; docs/spec.md states
them and a test reads them from this dict. A cause's rule looks at the Evidence (numbers from the
history, the insides and the spec) and returns how strongly it holds: the factor by which its
evidence passes its threshold (>= 1), or None. The strongest cause is named; the others are listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from . import remedies as R
from .events import Remedy
from .registry import Registry
from .spec import ExperimentSpec

THRESHOLDS: dict[str, float] = {
    "min_epochs": 10,  # fewer epochs: too_early
    "gap_min": 0.10,  # x L0: a smaller gap is never overfitting
    "gap_large": 0.30,  # x L0: a larger gap is overfitting on its own
    "rise_min": 0.05,  # x L0: val loss risen this far above its minimum ...
    "stale_min": 10,  # ... which is at least max(stale_min, stale_share * n) epochs old
    "stale_share": 0.2,
    "under_ratio": 0.45,  # x L0: train_end above this is underfitting
    "unstable_ratio": 1.5,  # x L0: train_end above this, and not falling, is unstable
    "falling": 0.01,  # x L0 per 10 epochs: a train trend below -this is "still falling"
    "steady": 3,  # falling steadily: mean |epoch-to-epoch change| at most this x the per-epoch fall
    "rough_max": 0.05,  # x L0: mean |epoch-to-epoch change| of train loss above this is oscillating
    "update_high": 1e-2,  # update ratio above this is a step too big for the weights
    "update_low": 1e-4,  # update ratio below this is a step too small to matter
    "vanish_ratio": 1e-2,  # first layer's grad norm below this x the last layer's
    "explode_ratio": 1e2,  # first layer's grad norm above this x the last layer's
    "explode_growth": 1e3,  # a layer's grad norm grew this many times since the first record
    "dead_max": 0.5,  # mean dead share of the ReLU-family layers above this
    "saturated_max": 0.5,  # mean saturated share of the sigmoid/tanh layers above this
    "penalty_share": 0.3,  # l1/l2 penalty above this share of the objective (loss + penalty)
    "dropout_high": 0.5,  # a dropout with p at least this ...
    "dropout_narrow": 32,  # ... after a layer of at most this many units
    "weight_shrink": 0.1,  # with l1/l2 on, a layer's weight norm fell below this x its first record's
}
T = THRESHOLDS
RECENT = 3  # insides records averaged for the evidence (the newest ones)


@dataclass
class Evidence:
    """The numbers the rules read. Insides-based ones are None when no record exists yet."""

    verdict: str
    l0: float
    n: int
    train_end: Optional[float] = None
    train_trend: float = 0.0  # per 10 epochs, over the window
    roughness: Optional[float] = None  # mean |train[i] - train[i-1]| over the window
    grad_ratio: Optional[float] = None  # grad norm of the first weighted layer / the last layer's
    grad_growth: Optional[float] = None  # largest (newest grad norm / first grad norm) of any layer
    update_ratio: Optional[float] = None  # the last layer's lr * |grad| / |w| (it always gets a gradient)
    plain_steps: bool = True  # an SGD-family optimizer: the step really is lr * grad
    dead: Optional[float] = None  # mean dead share over ReLU-family layers
    saturated: Optional[float] = None  # mean saturated share over sigmoid/tanh layers
    penalty_share: Optional[float] = None
    l2_raised: Optional[tuple[float, float, int]] = None  # (from, to, epoch) of the last l2 increase
    train_rise: Optional[float] = None  # train_end minus the lowest train loss before that increase
    l2_now: Optional[float] = None  # the l2 in force at the newest record (control can change it)
    weight_shrink: Optional[float] = None  # smallest (newest weight norm / first weight norm) of any layer
    dropout: Optional[tuple[float, int]] = None  # (p, units before it) of the strongest narrow dropout
    hidden: int = 0  # weighted hidden layers
    l1: float = 0.0
    flagged: list[str] = field(default_factory=list)  # layers flagged vanishing/dead/saturated

    @property
    def falling(self) -> bool:
        return falling_steadily(self.train_trend, self.roughness, self.l0)


def roughness(train: Sequence[float], w: int) -> Optional[float]:
    """Mean |train[i] - train[i-1]| over the last w epochs (None with fewer than 2)."""
    tail = list(train[-w - 1:])
    if len(tail) < 2:
        return None
    return sum(abs(b - a) for a, b in zip(tail, tail[1:])) / (len(tail) - 1)


def falling_steadily(trend_per_10: float, rough: Optional[float], l0: float) -> bool:
    """The train trend is below -falling x L0 per 10 epochs, and the loss moves mostly downhill:
    its mean epoch-to-epoch change is at most `steady` x the per-epoch fall (not an oscillation)."""
    if trend_per_10 >= -T["falling"] * l0:
        return False
    return rough is None or rough <= T["steady"] * (-trend_per_10 / 10)


def _mean(xs: Sequence[float]) -> Optional[float]:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(xs) / len(xs) if xs else None


def _recent(layer: dict[str, Any], key: str) -> Optional[float]:
    return _mean(layer.get(key, [])[-RECENT:])


def layer_flags(insides: dict[str, Any]) -> list[list[str]]:
    """Per insides layer: 'vanishing' (grad norm < vanish_ratio x the last layer's of its stack), 'dead',
    'saturated'. Each stack of a multi-stack family is judged on its own."""
    layers = insides.get("layers", [])
    stack_of = [layer.get("stack", "layers") for layer in layers]
    last_of = {st: j for j, st in enumerate(stack_of)}  # the last row of each stack
    out = []
    for j, layer in enumerate(layers):
        f = []
        g = _recent(layer, "grad_norm")
        end = last_of[stack_of[j]]
        last = _recent(layers[end], "grad_norm")
        if j < end and g is not None and last and g < T["vanish_ratio"] * last:
            f.append("vanishing")
        if (_recent(layer, "dead") or 0) > T["dead_max"]:
            f.append("dead")
        if (_recent(layer, "saturated") or 0) > T["saturated_max"]:
            f.append("saturated")
        out.append(f)
    return out


def _from_insides(ev: Evidence, ins: dict[str, Any]) -> None:
    layers = ins.get("layers", [])
    if not layers or not ins.get("epochs"):
        return
    first, last = _recent(layers[0], "grad_norm"), _recent(layers[-1], "grad_norm")
    if len(layers) > 1 and first is not None and last:
        ev.grad_ratio = first / last
    growth = []
    for layer in layers:
        gs = [g for g in layer["grad_norm"] if g is not None and g > 0]
        if len(gs) >= 2:
            growth.append(gs[-1] / gs[0])
    ev.grad_growth = max(growth) if growth else None
    ev.update_ratio = _recent(layers[-1], "update_ratio")
    ev.dead = _mean([_recent(l, "dead") for l in layers if l.get("activation") in ("relu", "leaky_relu", "elu")])
    ev.saturated = _mean([_recent(l, "saturated") for l in layers if l.get("activation") in R.SATURATING])
    loss, pen = _mean(ins["loss"][-RECENT:]), _mean(ins["penalty"][-RECENT:])
    if loss is not None and pen is not None and loss + pen > 0:
        ev.penalty_share = pen / (loss + pen)
    shrink = [l["weight_norm"][-1] / l["weight_norm"][0] for l in layers
              if len(l["weight_norm"]) >= 2 and l["weight_norm"][0] and l["weight_norm"][-1] is not None]
    ev.weight_shrink = min(shrink) if shrink else None
    l2s, epochs = ins.get("l2", []), ins["epochs"]
    ev.l2_now = l2s[-1] if l2s else None
    for i in range(len(l2s) - 1, 0, -1):
        if l2s[i] > l2s[i - 1]:
            ev.l2_raised = (l2s[i - 1], l2s[i], epochs[i])
            break
    flags = layer_flags(ins)
    ev.flagged = [f"{l['name']} ({', '.join(f)})" for l, f in zip(layers, flags) if f]


def evidence(verdict: str, facts: dict[str, Any], history: dict[str, list], spec: ExperimentSpec,
             insides: Optional[dict[str, Any]]) -> Evidence:
    """Everything the rules read, gathered once."""
    train = [v for v in history.get("train_loss", []) if v is not None]
    w = facts.get("window", 3)
    ev = Evidence(verdict, facts.get("baseline_loss", 1.0) or 1e-8, len(train), facts.get("train_loss"),
                  facts.get("train_trend_per_10", 0.0))
    ev.roughness = roughness(train, w)
    stacks = R.stack_layers(spec)  # every stack of the family (an autoencoder's encoder and decoder)
    ev.hidden = sum(1 for _, layers in stacks for l in layers if l["type"] in R.SIZED)
    ev.plain_steps = spec.training.optimizer not in R.ADAPTIVE
    ev.l1, ev.l2_now = spec.training.l1, spec.training.l2
    for _, layers in stacks:
        for i, l in enumerate(layers):
            before = next((layers[j] for j in range(i - 1, -1, -1) if layers[j]["type"] in R.SIZED), None)
            if l["type"] == "dropout" and before and l["p"] >= T["dropout_high"]:
                units = before[R.SIZED[before["type"]]]
                if units <= T["dropout_narrow"] and (ev.dropout is None or l["p"] > ev.dropout[0]):
                    ev.dropout = (l["p"], units)
    if insides:
        _from_insides(ev, insides)
    if ev.l2_raised is not None:
        at = ev.l2_raised[2]
        if 0 < at <= len(train) and ev.train_end is not None:
            ev.train_rise = ev.train_end - min(train[:at])
    return ev


@dataclass
class Cause:
    """A cause: its rule (Evidence -> strength or None), its words, its remedies, what it rules out."""

    id: str
    title: str
    verdicts: tuple[str, ...]  # the verdicts it can explain
    rule: Callable[[Evidence], Optional[float]]
    explain: Callable[[Evidence], str]  # a sentence that quotes the evidence
    remedies: Callable[[ExperimentSpec, "Evidence"], list[Optional[Remedy]]]
    forbids: frozenset[str] = frozenset()  # remedy ids that contradict this cause
    fallback: bool = False  # named only when no other cause holds
    symptom_of: tuple[str, ...] = ()  # causes that bring this one about: when they hold, they rank first

    def evidence(self, ev: Evidence) -> dict[str, Any]:
        """The numbers this cause's rule read, for the event's `evidence`."""
        keys = EVIDENCE_KEYS.get(self.id, ())
        return {k: getattr(ev, k) for k in keys}


CAUSES: Registry[Cause] = Registry("cause")

EVIDENCE_KEYS = {
    "lr_too_high": ("train_end", "l0", "roughness", "update_ratio"),
    "lr_too_low": ("train_trend", "update_ratio"),
    "vanishing_gradients": ("grad_ratio", "flagged"),
    "exploding_gradients": ("grad_ratio", "grad_growth"),
    "dead_units": ("dead", "flagged"),
    "saturation": ("saturated", "flagged"),
    "over_regularized": ("penalty_share", "l2_raised", "train_rise", "dropout", "weight_shrink", "l2_now"),
    "too_small": ("train_end", "l0", "hidden", "train_trend"),
    "too_short": ("train_trend", "n"),
    "memorising": (),
    "handled": (),
}


def g(x: Optional[float]) -> str:
    """A number for a sentence: 3 significant digits, or an exponent for very large or small."""
    if x is None:
        return "?"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"


def _over(value: Optional[float], threshold: float) -> Optional[float]:
    """value / threshold when value passes it (a rule's strength), else None."""
    return value / threshold if value is not None and value > threshold else None


def _under(value: Optional[float], threshold: float) -> Optional[float]:
    return threshold / max(value, 1e-30) if value is not None and value < threshold else None


def _register(cause: Cause) -> None:
    CAUSES.register(cause.id, cause)


# -- the rules ------------------------------------------------------------------------------------
def _lr_too_high(ev: Evidence) -> Optional[float]:
    if ev.verdict == "diverged":
        return 1.0
    if ev.verdict == "unstable":
        return max(1.0, (ev.train_end or 0) / (T["unstable_ratio"] * ev.l0))
    # Underfitting: the loss jumps about without a downward trend, and the steps are big.
    rough = _over((ev.roughness or 0) / ev.l0, T["rough_max"])
    small_steps = ev.plain_steps and ev.update_ratio is not None and ev.update_ratio <= T["update_high"]
    if rough is None or ev.falling or small_steps:
        return None
    return rough


_register(Cause(
    "lr_too_high", "The learning rate is too high", ("diverged", "unstable", "underfitting"), _lr_too_high,
    lambda ev: (f"the train loss ({g(ev.train_end)}, {g((ev.train_end or 0) / ev.l0)} x the constant-guess loss) "
                f"jumps by {g(ev.roughness)} an epoch without a downward trend"
                + (f", and each step moves the last layer's weights by {g(ev.update_ratio)} of their size "
                   "(far above 1e-3)" if ev.plain_steps and (ev.update_ratio or 0) > T["update_high"] else "")
                if ev.verdict != "diverged" else
                "the loss became NaN or exploded: the updates overshoot"),
    lambda spec, ev: [R.lower_lr(spec), R.use_adam(spec)],
    frozenset({"raise_lr", "bigger_model", "train_longer"})))


def _lr_too_low(ev: Evidence) -> Optional[float]:
    # Adaptive optimizers scale each step themselves: lr * grad is not their step, so no rule here.
    rising = ev.train_trend > T["falling"] * ev.l0
    steady = (ev.roughness or 0) <= T["rough_max"] * ev.l0
    if not ev.plain_steps or rising or not steady or not ev.update_ratio:
        return None  # a zero ratio is no gradient at all (dead units), not a small step
    return _under(ev.update_ratio, T["update_low"])


_register(Cause(
    "lr_too_low", "The learning rate is too low", ("underfitting",), _lr_too_low,
    lambda ev: (f"the train loss changes steadily but slowly ({g(ev.train_trend)} per 10 epochs): each step "
                f"moves the last layer's weights by only {g(ev.update_ratio)} of their size (far below 1e-3)"),
    lambda spec, ev: [R.raise_lr(spec), R.use_adam(spec), R.train_longer(spec)],
    frozenset({"lower_lr"}), symptom_of=("dead_units", "saturation", "vanishing_gradients")))

_register(Cause(
    "vanishing_gradients", "Vanishing gradients", ("underfitting", "unstable"),
    lambda ev: _under(ev.grad_ratio, T["vanish_ratio"]),
    lambda ev: (f"the first layer's gradient is {g(ev.grad_ratio)} x the last layer's "
                f"(below {g(T['vanish_ratio'])}): the first layers barely learn"
                + (f"; flagged: {', '.join(ev.flagged)}" if ev.flagged else "")),
    lambda spec, ev: [R.switch_activation(spec, R.SATURATING, "relu"), R.add_batchnorm(spec), R.use_adam(spec)],
    frozenset({"raise_lr"}), symptom_of=("dead_units", "saturation", "over_regularized")))


def _exploding(ev: Evidence) -> Optional[float]:
    by_ratio = _over(ev.grad_ratio, T["explode_ratio"])
    by_growth = _over(ev.grad_growth, T["explode_growth"])
    return max((s for s in (by_ratio, by_growth) if s is not None), default=None)


_register(Cause(
    "exploding_gradients", "Exploding gradients", ("diverged", "unstable", "underfitting"), _exploding,
    lambda ev: "; ".join(
        ([f"a layer's gradient norm grew {g(ev.grad_growth)} x since the first record (above "
          f"{g(T['explode_growth'])} x)"] if (ev.grad_growth or 0) > T["explode_growth"] else [])
        + ([f"the first layer's gradient is {g(ev.grad_ratio)} x the last layer's (above "
            f"{g(T['explode_ratio'])} x)"] if (ev.grad_ratio or 0) > T["explode_ratio"] else [])),
    lambda spec, ev: [R.lower_lr(spec), R.add_batchnorm(spec), R.use_adam(spec)],
    frozenset({"raise_lr", "train_longer"})))

_register(Cause(
    "dead_units", "Dead ReLU units", ("underfitting", "unstable"),
    lambda ev: _over(ev.dead, T["dead_max"]),
    lambda ev: (f"{ev.dead:.0%} of the ReLU units never fire on the probe batch, so no gradient reaches them"
                + (f"; flagged: {', '.join(ev.flagged)}" if ev.flagged else "")),
    lambda spec, ev: [R.lower_lr(spec), R.switch_activation(spec, ("relu",), "leaky_relu"), R.add_batchnorm(spec)],
    frozenset({"raise_lr"}), symptom_of=("over_regularized",)))

_register(Cause(
    "saturation", "Saturated units", ("underfitting", "unstable"),
    lambda ev: _over(ev.saturated, T["saturated_max"]),
    lambda ev: (f"{ev.saturated:.0%} of the sigmoid/tanh outputs sit at their limits, where the gradient "
                "is almost zero" + (f"; flagged: {', '.join(ev.flagged)}" if ev.flagged else "")),
    lambda spec, ev: [R.switch_activation(spec, R.SATURATING, "relu"), R.add_batchnorm(spec), R.lower_lr(spec)],
    frozenset({"raise_lr"})))


def _over_regularized(ev: Evidence) -> Optional[float]:
    by_share = _over(ev.penalty_share, T["penalty_share"])
    by_rise = _over((ev.train_rise or 0) / ev.l0, T["rise_min"]) if ev.l2_raised else None
    by_dropout = ev.dropout[0] / T["dropout_high"] if ev.dropout else None
    penalised = (ev.l2_now or 0) > 0 or ev.l1 > 0
    by_shrink = _under(ev.weight_shrink, T["weight_shrink"]) if penalised else None
    return max((s for s in (by_share, by_rise, by_dropout, by_shrink) if s is not None), default=None)


def _explain_reg(ev: Evidence) -> str:
    parts = []
    if ev.penalty_share is not None and ev.penalty_share > T["penalty_share"]:
        parts.append(f"the L1/L2 penalty is {ev.penalty_share:.0%} of the objective")
    if ev.l2_raised and ev.train_rise is not None and ev.train_rise > T["rise_min"] * ev.l0:
        a, b, at = ev.l2_raised
        parts.append(f"the train loss rose {g(ev.train_rise)} after l2 went from {g(a)} to {g(b)} (by epoch {at})")
    if ev.weight_shrink is not None and ev.weight_shrink < T["weight_shrink"]:
        parts.append(f"the penalty has shrunk a layer's weights to {g(ev.weight_shrink)} of their first size")
    if ev.dropout:
        parts.append(f"dropout {ev.dropout[0]:g} follows a layer of only {ev.dropout[1]} units")
    return "; ".join(parts) or "the regularization holds the fit back"


_register(Cause(
    "over_regularized", "Too much regularization", ("underfitting",), _over_regularized, _explain_reg,
    lambda spec, ev: [R.less_regularization(spec, ev.l2_now)],
    frozenset({"add_l2", "add_dropout", "smaller_model"})))


def _too_small(ev: Evidence) -> Optional[float]:
    if ev.hidden == 0:
        return 2.0  # a linear model: no amount of training bends its boundary
    return None if ev.falling else 1.0


_register(Cause(
    "too_small", "The model is too small", ("underfitting",), _too_small,
    lambda ev: (f"train loss is still {(ev.train_end or 0) / ev.l0:.0%} of the constant-guess loss with "
                + ("no hidden layer: a linear model cannot bend its boundary" if ev.hidden == 0 else
                   f"{ev.hidden} hidden layer{'s' if ev.hidden != 1 else ''}, and train loss has "
                   + ("flattened" if ev.train_trend >= -T["falling"] * ev.l0 else "stopped falling steadily"))),
    lambda spec, ev: [R.resize_model(spec, 2.0), R.train_longer(spec)],
    frozenset({"smaller_model", "add_l2", "add_dropout"}), fallback=True))

_register(Cause(
    "too_short", "Not trained long enough", ("underfitting",),
    lambda ev: 1.0 if ev.falling else None,
    lambda ev: f"train loss is still falling steadily ({g(ev.train_trend)} per 10 epochs)",
    lambda spec, ev: [R.train_longer(spec)],
    frozenset({"smaller_model", "lower_lr"}), fallback=True))

_register(Cause(
    "memorising", "Memorising the training set", ("overfitting",), lambda ev: 1.0,
    lambda ev: "the model fits the training points far better than new ones",
    lambda spec, ev: [R.early_stopping(spec, ev.n), R.add_dropout(spec), R.add_l2(spec), R.more_data(spec),
                     R.resize_model(spec, 0.5)],
    frozenset({"bigger_model", "train_longer", "less_regularization", "raise_lr"})))

_register(Cause(
    "handled", "Overfitting handled by early stopping", ("good_fit",), lambda ev: 1.0,
    lambda ev: "early stopping cut the run off and kept the weights of the best epoch",
    lambda spec, ev: [], frozenset({"bigger_model", "train_longer", "early_stopping"})))


def find(ev: Evidence) -> list[tuple[Cause, float]]:
    """The causes that hold for this verdict, strongest first; a fallback only when nothing else holds."""
    found = []
    for _, cause in CAUSES.items():
        if ev.verdict in cause.verdicts and cause.id not in ("handled", "memorising"):
            s = cause.rule(ev)
            if s is not None:
                found.append((cause, s))
    specific = [(c, s) for c, s in found if not c.fallback]
    fallbacks = [(c, s) for c, s in found if c.fallback]
    held = {c.id for c, _ in specific}
    # A symptom (vanishing gradients from saturated or dead units) ranks after what brings it about.
    ranked = (sorted(specific, key=lambda cs: (bool(held & set(cs[0].symptom_of)), -cs[1]))
              or sorted(fallbacks, key=lambda cs: -cs[1]))
    if specific:  # "still falling" is worth saying alongside a specific cause
        ranked += [(c, s) for c, s in fallbacks if c.id == "too_short"]
    return ranked


def remedies_for(spec: ExperimentSpec, ev: Evidence, causes: Sequence[Cause]) -> list[Remedy]:
    """The first cause's remedies, then the others' that none of the causes rules out, each once."""
    forbidden = frozenset().union(*(c.forbids for c in causes))
    out: list[Remedy] = []
    for k, cause in enumerate(causes):
        for r in R.keep(spec, *cause.remedies(spec, ev)):
            if (k == 0 or r.id not in forbidden) and all(r.id != o.id for o in out):
                out.append(r)
    return out

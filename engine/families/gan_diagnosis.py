"""The GAN diagnosis: a pure function of a generation run's history, for the dynamics GANs have.

With n epochs, the window w = max(5, n // 5) last epochs, "end" a mean over that window, and K the
data's modes (ring 8, grid 25; none on moons or spiral):

  diverged        the run diverged, or a loss is missing.
  too_early       fewer than MIN_EPOCHS epochs.
  d_overpowering  D wins: d_real >= D_WIN and d_fake <= 1 - D_WIN in each of the last
                  max(5, n // 10) epochs ("many"), and g_loss is up: its end is above its mean over
                  the first w epochs by more than RISE_MIN, or above ln 4 (G's loss when D gives its
                  points 1/4; at the game's equilibrium, D = 1/2, it is ln 2).
  mode_collapse   (data with modes) modes_covered's end is at most half of K and not rising (its trend
                  over the window gains less than RISING modes), while the losses look calm (g_loss
                  swings less than CALM).
  oscillation     the distance swings without trend: its standard deviation over the window is at least
                  SWING of its mean and more than the change its trend explains, and g_loss swings too.
  mode_collapse   also when the losses are not calm, if nothing above held: a generator that covers at
                  most half of the modes, and is not gaining, is never "converging".
  converging      otherwise.

With training.loss 'wasserstein_gp', D is a critic whose scores are not probabilities: there is no
d_real or d_fake, and no d_overpowering (a critic is meant to be trained hard; its gradient does not
fade as a classifier's does), and the swing that tells calm losses is w_distance's, the critic's
estimate of the distance, since G's loss is a score of arbitrary offset.

Each remedy is a JSON merge patch that forks a run overlaid on this one.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from ..diagnosis import _mean, _slope  # the shared window statistics
from ..events import Diagnosis, Remedy
from ..remedies import keep as _keep
from ..spec import ExperimentSpec
from .gan_step import is_wasserstein

MIN_EPOCHS = 10
D_WIN = 0.75  # D's mean output on real points at least this, on generated ones at most 1 - this
RISE_MIN = 0.3  # g_loss up by this much (nats) from the first window to the last
CALM = 0.25  # g_loss's standard deviation over its mean below this: the losses look calm
SWING = 0.25  # the distance's standard deviation over its mean at least this: it swings
RISING = 1.0  # modes gained over the window by modes_covered's trend: less is "not rising"
LN4 = math.log(4.0)


def _f(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.3e}"


def _std(xs: Sequence[float]) -> float:
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def _trailing(pred: Sequence[bool]) -> int:
    """How many of the last entries hold."""
    k = 0
    for ok in reversed(pred):
        if not ok:
            break
        k += 1
    return k


# -- remedies ---------------------------------------------------------------------------------------
def _d_lr(spec: ExperimentSpec) -> float:
    return spec.training.d_lr if spec.training.d_lr is not None else spec.training.lr


def _lower_d_lr(spec: ExperimentSpec) -> Remedy:
    d_lr, lr = _d_lr(spec), spec.training.lr
    new = lr if d_lr > lr else float(f"{d_lr / 4:.3g}")
    return Remedy("lower_d_lr", f"Lower D's learning rate ({new:g})", "A slower discriminator leaves G a gradient "
                  "to follow.", {"training": {"d_lr": new}})


def _fewer_d_steps(spec: ExperimentSpec) -> Optional[Remedy]:
    steps = spec.training.d_steps or 1
    if steps <= 1:
        return None
    return Remedy("fewer_d_steps", "One D step per G step", f"{steps} D updates per G update let D run ahead.",
                  {"training": {"d_steps": 1}})


def _wider_g(spec: ExperimentSpec) -> Optional[Remedy]:
    layers = spec.to_json()["model"]["generator"]["layers"]
    if not layers:
        new = [{"type": "dense", "units": 32, "activation": "relu"}] * 2
        return Remedy("wider_g", "Give G two hidden layers", "A linear G can only draw one Gaussian.",
                      {"model": {"generator": {"layers": new}}})
    out = [{**l, "units": min(4096, l["units"] * 2)} if l["type"] == "dense" else l for l in layers]
    if out == layers:
        return None
    return Remedy("wider_g", "Wider generator (2x units)", "More capacity lets G match what D has learned.",
                  {"model": {"generator": {"layers": out}}})


def _lower_lr(spec: ExperimentSpec, both: bool) -> Remedy:
    t = spec.training
    patch: dict[str, Any] = {"lr": float(f"{t.lr / 4:.3g}")}
    if t.d_lr is not None:
        patch["d_lr"] = float(f"{t.d_lr / 4:.3g}")
    label = "Lower both learning rates" if both else f"Lower learning rate ({patch['lr']:g})"
    why = ("Smaller steps damp the two networks chasing each other." if both
           else "Smaller steps keep G from jumping from mode to mode.")
    return Remedy("lower_lr", label, why, {"training": patch})


def _more_latent(spec: ExperimentSpec) -> Optional[Remedy]:
    k = spec.model.latent_dim
    if k >= 64:
        return None
    new = min(64, k * 2)
    return Remedy("more_latent", f"More latent dimensions ({new})", "More noise dimensions give G room to spread "
                  "its points over several modes.", {"model": {"latent_dim": new}})


def _minibatch_std(spec: ExperimentSpec) -> Optional[Remedy]:
    if spec.model.minibatch_std or is_wasserstein(spec):  # a critic refuses it (generation.critic_problems)
        return None
    return Remedy("minibatch_std", "Minibatch-aware D", "D sees each batch's spread, so a collapsed batch of "
                  "fakes gives itself away and G is pushed to spread out.", {"model": {"minibatch_std": True}})


def _adam_gan(spec: ExperimentSpec) -> Optional[Remedy]:
    if spec.training.optimizer == "adam_gan":
        return None
    return Remedy("adam_gan", "Adam with beta1 = 0.5", "Less momentum keeps each network from overshooting "
                  "the other's last move.", {"training": {"optimizer": "adam_gan"}})


# -- the verdict ------------------------------------------------------------------------------------
def diagnose_gan(history: dict[str, list], spec: ExperimentSpec, baseline: float, status: Optional[str],
                 best_epoch: Optional[int], n_modes: Optional[int]) -> Diagnosis:
    """The verdict on a generation run (see the module docstring)."""
    g, dl = history.get("g_loss", []), history.get("d_loss", [])
    n = len(g)
    if status == "diverged" or any(v is None for v in g + dl):
        return Diagnosis("diverged", f"A loss became NaN or infinite with lr {_f(spec.training.lr)}: "
                         "lower the learning rates.", _keep(spec, _lower_lr(spec, True)), n, {})
    if n < MIN_EPOCHS:
        return Diagnosis("too_early", f"Only {n} epoch{'s' if n != 1 else ''} so far; a verdict needs "
                         f"{MIN_EPOCHS}.", [], n, {})
    critic = is_wasserstein(spec)
    real, fake, dist = history["d_real"], history["d_fake"], history["distance"]
    modes = [m for m in history.get("modes_covered", []) if m is not None]
    w = max(5, n // 5)
    g_end, dist_end = _mean(g[-w:]), _mean(dist[-w:])
    facts: dict[str, Any] = {"epochs": n, "window": w, "g_loss": g_end, "d_loss": _mean(dl[-w:]),
                             "distance": dist_end, "distance_min": min(dist), "best_epoch": best_epoch,
                             "baseline_distance": baseline}
    if critic:
        wd = [v for v in history.get("w_distance", []) if v is not None] or [0.0]
        facts["w_distance"] = _mean(wd[-w:])
        nums = (f"After {n} epochs (means of the last {w}): the critic puts real and generated points "
                f"{_f(facts['w_distance'])} apart (its estimate of the Wasserstein distance); g_loss {_f(g_end)}, "
                f"d_loss {_f(facts['d_loss'])} with the gradient penalty; ")
    else:
        facts.update(d_real=_mean(real[-w:]), d_fake=_mean(fake[-w:]))
        nums = (f"After {n} epochs (means of the last {w}): D says {facts['d_real']:.2f} on real points and "
                f"{facts['d_fake']:.2f} on generated ones; g_loss {_f(g_end)}, d_loss {_f(facts['d_loss'])}; ")
    nums += f"energy distance {_f(dist_end)} (lowest {_f(min(dist))}, at epoch {best_epoch}). "
    if modes:
        facts["modes_covered"] = _mean(modes[-w:])
        facts["n_modes"] = n_modes
        nums += f"Modes covered: {facts['modes_covered']:.1f} of {n_modes}. "

    many = max(5, n // 10)
    g_swing = _std(g[-w:]) / max(abs(g_end), 1e-8)
    swinger = "the critic's estimate" if critic else "g_loss"
    if critic:  # G's loss is a score of arbitrary offset: calm is the critic's estimate's swing
        g_swing = _std(wd[-w:]) / max(abs(facts["w_distance"]), 1e-8)
    else:
        streak = _trailing([r >= D_WIN and f <= 1 - D_WIN for r, f in zip(real, fake)])
        g_rise = g_end - _mean(g[:w])
        facts.update(d_wins_for=streak, g_loss_rise=g_rise)
        if streak >= many and (g_rise > RISE_MIN or g_end > LN4):
            reason = nums + (f"D has scored real points >= {D_WIN} and generated ones <= {1 - D_WIN:.2f} for the "
                             f"last {streak} epochs, and g_loss is {_f(g_end)} (up {_f(g_rise)} on the first {w} "
                             f"epochs; {_f(math.log(2))} at equilibrium): D is overpowering G, whose "
                             "gradient fades as D rejects everything it makes.")
            return Diagnosis("d_overpowering", reason, _keep(spec, _lower_d_lr(spec), _fewer_d_steps(spec),
                                                              _wider_g(spec)), n, facts)

    d_swing = _std(dist[-w:]) / max(dist_end, 1e-8)
    d_trend = abs(_slope(dist[-w:])) * w
    facts.update(g_loss_swing=g_swing, distance_swing=d_swing)
    collapsed = False
    if modes and n_modes:
        cov_end, cov_slope = facts["modes_covered"], _slope(modes[-w:])
        collapsed = cov_end <= n_modes / 2 and cov_slope * w < RISING

    def collapse(calm: str) -> Diagnosis:
        reason = nums + (f"G covers {facts['modes_covered']:.1f} of the {n_modes} modes (at most {max(modes):.0f} so "
                         f"far) and that is not rising, {calm}: G has collapsed onto a few modes that D cannot "
                         "push it off.")
        return Diagnosis("mode_collapse", reason, _keep(spec, _lower_lr(spec, False), _more_latent(spec),
                                                              _minibatch_std(spec)), n, facts)

    if collapsed and g_swing < CALM:
        return collapse(f"while the losses look calm ({swinger} swings {g_swing:.0%} of its mean)")
    if d_swing >= SWING and _std(dist[-w:]) > d_trend and g_swing >= CALM / 2:
        reason = nums + (f"Over the last {w} epochs the distance swings by {d_swing:.0%} of its mean with no trend, "
                         f"and {swinger} by {g_swing:.0%}: the two networks are chasing each other.")
        return Diagnosis("oscillation", reason, _keep(spec, _lower_lr(spec, True), _adam_gan(spec)), n, facts)
    if collapsed:
        return collapse(f"though {swinger} swings {g_swing:.0%} of its mean")
    first = _mean(dist[:w])
    reason = nums + (f"The distance fell from {_f(first)} to {_f(dist_end)} (learning nothing scores "
                     f"{_f(baseline)}): the generator is converging on the data.")
    return Diagnosis("converging", reason, [], n, facts)

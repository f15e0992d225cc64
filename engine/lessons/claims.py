"""The kinds of claim a lesson can make, each a pure function of what its runs did.

An Outcome is one ended run as the claims see it: its history, its final diagnosis, its spec and
parameter count. It is built the same way from a Trainer (the engine's tests) and from a server
run (the page's check), so a claim that holds in the tests holds on screen.

Claims read stable things: the final diagnosis (itself a window-mean rule), the best val loss, or
window means. A claim that needed one chaotic epoch would differ between CPUs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..registry import Registry


@dataclass
class Outcome:
    """One ended run, as the claims read it."""

    label: str
    history: dict[str, list]
    diagnosis: dict[str, Any]  # the final diagnosis: verdict, reason, and cause where the family gives one
    spec: dict[str, Any]
    total_params: int
    status: str = "finished"
    extra: dict[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> list[float]:
        return [v for v in self.history.get(name, []) if v is not None]

    def best(self, name: str = "val_loss") -> float:
        vals = self.column(name)
        return min(vals) if vals else math.inf

    def kept(self) -> float:
        """Val loss of the weights the run ends with: the restored best epoch's after early stopping,
        else the mean of the last epochs (the last one alone swings from epoch to epoch)."""
        end_val, at = self.extra.get("end_val_loss"), self.extra.get("weights_epoch")
        if end_val is not None and at is not None and at < len(self.column("val_loss")):
            return end_val
        return self.tail_mean("val_loss")

    def tail_mean(self, name: str, share: float = 0.1) -> float:
        """Mean of the last max(3, share * n) epochs: stable where the last epoch is not."""
        vals = self.column(name)
        if not vals:
            return math.nan
        w = max(3, int(len(vals) * share))
        return sum(vals[-w:]) / len(vals[-w:])


Result = tuple[bool, str]  # (held, the evidence in words)
ClaimFn = Callable[[dict[str, Any], list[Outcome]], Result]
CLAIMS: Registry[ClaimFn] = Registry("claim")


def _f(x: float) -> str:
    return f"{x:.3g}"


@CLAIMS.register("verdict")
def verdict(p: dict[str, Any], runs: list[Outcome]) -> Result:
    """params: run, verdict, and optionally cause: the run's final diagnosis says so."""
    r = runs[p["run"]]
    got, cause = r.diagnosis.get("verdict"), r.diagnosis.get("cause")
    held = got == p["verdict"] and ("cause" not in p or cause == p["cause"])
    said = f"{got}" + (f" ({cause})" if cause else "")
    return held, f"{r.label}: the diagnosis says {said}. {r.diagnosis.get('reason', '')}".strip()


@CLAIMS.register("val_min_early")
def val_min_early(p: dict[str, Any], runs: list[Outcome]) -> Result:
    """params: run, within (share of the epochs), rise (share): val loss bottoms out early, then climbs."""
    r = runs[p["run"]]
    val = r.column("val_loss")
    at = val.index(min(val)) + 1
    end = r.tail_mean("val_loss")
    held = at <= p.get("within", 0.3) * len(val) and end > (1 + p.get("rise", 0.2)) * min(val)
    return held, (f"{r.label}: val loss was lowest at epoch {at} of {len(val)} ({_f(min(val))}) and ends "
                  f"near {_f(end)}.")


@CLAIMS.register("beats")
def beats(p: dict[str, Any], runs: list[Outcome]) -> Result:
    """params: runs, than, metric: each of `runs` has a lower val loss than run `than`, by `metric`:
    "best" (the lowest of the run) or "kept" (that of the weights the run ends with, Outcome.kept)."""
    kept = p.get("metric", "best") == "kept"
    value = (lambda r: r.kept()) if kept else (lambda r: r.best())
    base = runs[p["than"]]
    words, held = [], True
    for i in p["runs"]:
        r = runs[i]
        ok = value(r) < value(base)
        held &= ok
        words.append(f"{r.label} {_f(value(r))}{'' if ok else ' (not lower)'}")
    what = "Val loss of the weights kept" if kept else "Best val loss"
    return held, f"{what}: {base.label} {_f(value(base))}; " + ", ".join(words) + "."


@CLAIMS.register("fewer_params_no_worse")
def fewer_params_no_worse(p: dict[str, Any], runs: list[Outcome]) -> Result:
    """params: run, than, tolerance: `run` has fewer parameters and a val accuracy at least as good."""
    a, b = runs[p["run"]], runs[p["than"]]
    acc_a, acc_b = a.tail_mean("val_acc"), b.tail_mean("val_acc")
    held = a.total_params < b.total_params and acc_a >= acc_b - p.get("tolerance", 0.0)
    return held, (f"{a.label}: {a.total_params:,} parameters, val accuracy {acc_a:.1%}; "
                  f"{b.label}: {b.total_params:,} parameters, val accuracy {acc_b:.1%}.")


@CLAIMS.register("throughput_rises")
def throughput_rises(p: dict[str, Any], runs: list[Outcome]) -> Result:
    """params: runs (in order of batch size), factor (default 1.5): every bigger batch trains at least
    `factor` x the samples per second of the smallest. Not each bigger than the last: on a CPU the rate
    levels off past a few dozen samples (64 and 256 swapped places between kernels and loads), which a
    GPU would not do. Each run's step time is the median over its epochs: another process taking the
    core for a few epochs (a parallel test, a browser) slows those epochs, not the median."""
    rates = []
    for i in p["runs"]:
        r = runs[i]
        steps = sorted(s for s in r.column("step_time") if s is not None)
        step = steps[len(steps) // 2] if steps else math.inf
        rates.append((r, r.spec["training"]["batch_size"] / step))
    held = all(rate >= p.get("factor", 1.5) * rates[0][1] for _, rate in rates[1:])
    words = ", ".join(f"batch {r.spec['training']['batch_size']}: {rate:,.0f} samples/s" for r, rate in rates)
    return held, f"Training speed: {words}."


@CLAIMS.register("beats_naive")
def beats_naive(p: dict[str, Any], runs: list[Outcome]) -> Result:
    """params: run, factor: a forecast's val loss (window mean) is below `factor` x the naive forecast's."""
    r = runs[p["run"]]
    val, naive = r.tail_mean("val_loss"), r.tail_mean("naive_val_loss")
    held = val < p.get("factor", 1.0) * naive
    return held, (f"{r.label}: val loss {_f(val)} against {_f(naive)} for repeating the last value "
                  f"({val / naive:.0%} of it)." if naive else f"{r.label}: no naive forecast to compare.")


@CLAIMS.register("beats_noisy_input")
def beats_noisy_input(p: dict[str, Any], runs: list[Outcome]) -> Result:
    """params: run, factor: a denoising autoencoder's val loss (window mean), the noisy validation
    inputs rebuilt against the clean ones, is below `factor` x the noisy inputs' own error."""
    r = runs[p["run"]]
    val, noisy = r.tail_mean("val_loss"), r.tail_mean("noisy_loss")
    held = val < p.get("factor", 1.0) * noisy
    return held, (f"{r.label}: reconstructions of noisy digits are {_f(val)} from the clean ones, the noisy digits "
                  f"themselves {_f(noisy)} ({val / noisy:.0%} of it)." if noisy == noisy else
                  f"{r.label}: no noisy input to compare (training.denoise is 0).")


@CLAIMS.register("modes_covered")
def modes_covered(p: dict[str, Any], runs: list[Outcome]) -> Result:
    """params: run, of (the data's modes), and at_least and/or at_most: a GAN's modes_covered, as a
    mean of its last epochs (one epoch's count jumps by a mode either way)."""
    r = runs[p["run"]]
    got = r.tail_mean("modes_covered")
    held = got == got and got >= p.get("at_least", -math.inf) and got <= p.get("at_most", math.inf)
    return held, f"{r.label}: the generated points cover {got:.1f} of the {p['of']} modes (mean of the last epochs)."


def check(claims: list[Any], runs: list[Outcome]) -> dict[str, Any]:
    """Each claim's verdict and evidence, and whether they all held."""
    out = []
    for c in claims:
        try:
            held, words = CLAIMS.get(c.claim)(c.params, runs)
        except (IndexError, KeyError, ValueError, ZeroDivisionError) as e:  # a run missing or empty
            held, words = False, f"not shown yet ({type(e).__name__})"
        out.append({"claim": c.claim, "text": c.text, "held": bool(held), "evidence": words})
    return {"held": bool(out) and all(c["held"] for c in out), "claims": out}


def outcome_of(label: str, history: dict[str, list], diagnosis: Optional[dict[str, Any]],
               spec: dict[str, Any], total_params: int, end: Optional[dict[str, Any]]) -> Outcome:
    """An Outcome from the pieces a run keeps (a Trainer's or a server run's); `end` is its end message."""
    end = end or {}
    return Outcome(label, history, dict(diagnosis or {}), spec, total_params, end.get("status", "running"),
                   {"end_val_loss": end.get("val_loss"), "weights_epoch": end.get("weights_epoch")})

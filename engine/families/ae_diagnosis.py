"""The autoencoder diagnosis: the supervised verdicts on its losses, plus the bottleneck.

The verdict, its cause and remedies come from engine/diagnosis.py on train_loss and val_loss, with
L0 the loss of predicting the mean input. Then the bottleneck: with D input features and no
denoising, a code of latent_dim >= IDENTITY_SHARE * D units leaves room to learn (nearly) the
identity, which copies the input and learns nothing about its structure. Whatever the verdict,
the reason says so, quoting latent_dim and D, and offers a smaller latent_dim and some denoising.
"""

from __future__ import annotations

import math
from typing import Optional

from ..data import data_info
from ..diagnosis import diagnose
from ..events import Diagnosis, Remedy
from ..remedies import keep
from ..spec import ExperimentSpec

IDENTITY_SHARE = 0.5  # a code of at least half the input's size is no bottleneck
DENOISE_REMEDY = 0.2
NO_VERDICT = ("diverged", "too_early")


def bottleneck(spec: ExperimentSpec) -> tuple[int, int, bool]:
    """(latent_dim, D input features, whether the code is wide enough to copy the input)."""
    d = math.prod(data_info(spec.data).input_shape)
    k = spec.model.latent_dim
    return k, d, k >= IDENTITY_SHARE * d and not (spec.training.denoise or 0) > 0


def _remedies(spec: ExperimentSpec, k: int, d: int) -> list[Remedy]:
    small = max(2, min(k // 4, d // 8))
    return keep(spec,
                Remedy("smaller_latent", f"latent_dim = {small}", f"A code of {small} numbers cannot hold a copy of "
                       f"{d} inputs, so the model must learn what matters in them.", {"model": {"latent_dim": small}}),
                Remedy("add_denoise", f"Denoise {DENOISE_REMEDY:g}", "Noisy inputs and clean targets: copying the "
                       "input no longer scores, so the model must learn the data's structure.",
                       {"training": {"denoise": DENOISE_REMEDY}}))


def diagnose_autoencoder(history: dict[str, list], spec: ExperimentSpec, baseline: float, status: Optional[str],
                         best_epoch: Optional[int], stopped_early: bool = False) -> Diagnosis:
    """The supervised verdict on the reconstruction losses, and a reason about the bottleneck."""
    d = diagnose(history, spec, baseline, status=status, best_epoch=best_epoch, stopped_early=stopped_early)
    k, dim, wide = bottleneck(spec)
    d.facts = {**d.facts, "latent_dim": k, "input_features": dim, "identity_risk": wide}
    if not wide or d.verdict in NO_VERDICT:
        return d
    d.reason += (f" Bottleneck: the code has {k} units for {dim} input features ({k / dim:.0%} of them) and there "
                 "is no denoising, so the model can learn the identity: a low loss here says little about what it "
                 "learned. Squeeze the code or add noise to the input.")
    extra = _remedies(spec, k, dim)
    d.remedies = extra + [r for r in d.remedies if r.id not in {e.id for e in extra}]
    if d.cause is None:
        d.cause = "identity"
        d.evidence = {"latent_dim": k, "input_features": dim}
    else:
        d.also = [*d.also, "identity"]
    return d

"""Forecasting: windows of a series (T, 1) in, the next H values out, with MSE.

A forecast is only worth something if it beats repeating the last value, so every epoch also
carries `naive_val_loss`, the validation loss of that naive forecast, and a run that does not beat
it is never a good fit.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import torch
from torch import nn

from ..data import DataInfo, Split
from ..events import Diagnosis, Remedy
from ..family import FAMILIES, Metric, Stepper
from ..spec import ExperimentSpec, Limits
from .supervised import LOSS_METRICS, Supervised
from .supervised_step import SupervisedStepper

SEQUENCE_HINT = "choose a sequence dataset, such as `sequences`"


def naive_loss(x: torch.Tensor, y: torch.Tensor) -> float:
    """MSE of repeating each window's last value: x (N, T, F) with the series in feature 0, y (N, H)."""
    last = x[:, -1, :1]  # (N, 1), broadcast over the horizon
    return float(((y - last) ** 2).mean())


class Forecasting(Supervised):
    name = "forecasting"
    label = "Forecasting"
    description = "Windows of a series in, the next values out; MSE; measured against the naive forecast."
    natural = "forecasting"
    data_kinds = ("sequence",)
    loss_code = "nn.MSELoss()"
    fused = False  # its stepper adds the naive forecast's column; the fused one does not
    metrics: ClassVar[tuple[Metric, ...]] = LOSS_METRICS + (
        Metric("naive_val_loss", "Naive forecast (validation)", "loss", baseline=True),)

    def fits(self, data: DataInfo) -> Optional[str]:
        if data.kind != "sequence":
            return f"task 'forecasting' needs sequence data: {SEQUENCE_HINT}"
        return None

    def head_units(self, data: DataInfo) -> int:
        return data.target_dim

    def make_loss(self) -> nn.Module:
        return nn.MSELoss()

    def baseline(self, split: Split) -> float:
        """The variance of the targets: the constant guess, the diagnosis' scale as for regression."""
        return float(split.y_train.float().var(unbiased=False))

    def stepper(self, spec: ExperimentSpec, model: nn.Module, split: Split, device: torch.device) -> Stepper:
        t = spec.training
        naive = naive_loss(split.x_val, split.y_val)  # fixed data, so one number for every epoch
        return SupervisedStepper(model, split, device, optimizer=t.optimizer, lr=t.lr, l1=t.l1, l2=t.l2,
                                 loss=self.make_loss(), classes=False,
                                 extra_val=lambda: {"naive_val_loss": naive})

    def diagnose(self, history: dict[str, list], spec: ExperimentSpec, baseline: float,
                 status: Optional[str], best_epoch: Optional[int], insides: Optional[dict[str, Any]] = None,
                 stopped_early: bool = False) -> Diagnosis:
        d = super().diagnose(history, spec, baseline, status, best_epoch, insides, stopped_early)
        naive = [v for v in history.get("naive_val_loss", []) if v is not None]
        if not naive or d.verdict in ("diverged", "too_early"):
            return d
        d.facts["naive_val_loss"] = naive[-1]
        if d.verdict == "good_fit" and d.facts.get("val_loss", 0.0) >= naive[-1]:
            d.verdict = "underfitting"
            d.reason = (d.reason + f" But the naive forecast (repeat the last value) scores {naive[-1]:.3g} on "
                        "validation, and the model does not beat it: it has not learned the pattern yet.")
            epochs = spec.training.epochs
            if epochs * 2 <= Limits().max_epochs:
                d.remedies = [Remedy("train_longer", f"Train longer ({epochs * 2} epochs)",
                                     "The model has not yet beaten the naive forecast.",
                                     {"training": {"epochs": epochs * 2}})]
        return d


FAMILIES.register(Forecasting.name, Forecasting())

"""A toy family written the way a plug-in would be: least-squares linear regression with its own
stepper and a metric column no built-in family has (`val_mae`, charted as "Mean absolute error").

Nothing outside this file knows it: the tests register it, and the catalog, the trainer, the
websocket and the page must take it from the registry alone.
"""

from __future__ import annotations

import time
from typing import Iterator, Optional

import torch
from torch import nn

from engine.data import DataInfo, Split
from engine.diagnosis import diagnose
from engine.family import FAMILIES, Family, Metric, Stepper
from engine.shapes import LayerRow, Summary
from engine.spec import LayersModel

NAME = "toy_linear"


class ToyStepper(Stepper):
    """Plain SGD on MSE, written out: no code of the supervised families."""

    def __init__(self, model: nn.Module, split: Split, lr: float) -> None:
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=lr)
        self.x, self.y, self.xv, self.yv = split.x_train, split.y_train, split.x_val, split.y_val

    def train_epoch(self, order: torch.Tensor, batch_size: int) -> tuple[dict[str, Optional[float]], float]:
        t0, total, steps = time.perf_counter(), 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = ((self.model(self.x[idx]) - self.y[idx]) ** 2).mean()  # (B, 1) against (B, 1)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += loss.item() * len(idx)
            steps += 1
        return {"train_loss": total / len(order)}, (time.perf_counter() - t0) / max(1, steps)

    @torch.no_grad()
    def evaluate(self) -> dict[str, Optional[float]]:
        err = self.model(self.xv) - self.yv  # (N, 1)
        return {"val_loss": float((err ** 2).mean()), "val_mae": float(err.abs().mean())}

    def set_lr(self, lr: float) -> None:
        for g in self.opt.param_groups:
            g["lr"] = lr

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(sd)


class ToyLinear(Family):
    name = NAME
    label = "Toy linear fit"
    description = "y = w.x + b by SGD, reporting the mean absolute error."
    metrics = (Metric("train_loss", "Training loss", "loss", pair="val_loss"),
               Metric("val_loss", "Validation loss", "loss"),
               Metric("val_mae", "Validation MAE", "mae"))
    charts = {"loss": "Loss", "mae": "Mean absolute error"}

    def model_spec(self):
        return LayersModel

    def fits(self, data: DataInfo) -> Optional[str]:
        ok = data.task == "regression" and len(data.input_shape) == 1
        return None if ok else "toy_linear fits a line to regression data of features (F,)"

    def plan(self, spec, data: DataInfo) -> Summary:
        f = data.input_shape[0]
        head = LayerRow(0, "dense", "model.head", data.input_shape, (1,), f + 1, "linear", is_head=True)
        return Summary(data.input_shape, self.name, None, [head])

    def build(self, spec, summary: Summary) -> nn.Module:
        return nn.Sequential(nn.Linear(summary.input_shape[0], 1))

    def stepper(self, spec, model, split, device) -> Stepper:
        return ToyStepper(model, split, spec.training.lr)

    def baseline(self, split: Split) -> float:
        return float(split.y_train.var(unbiased=False))

    def diagnose(self, history, spec, baseline, status, best_epoch, insides=None, stopped_early=False):
        return diagnose(history, spec, baseline, status=status, best_epoch=best_epoch, stopped_early=stopped_early)


def registered() -> Iterator[ToyLinear]:
    """Register the toy family for the length of a test (a generator for a fixture)."""
    family = ToyLinear()
    FAMILIES.register(NAME, family)
    try:
        yield family
    finally:
        FAMILIES.unregister(NAME)


def toy_spec(epochs: int = 40) -> dict:
    return {"task": NAME, "data": {"dataset": "plane", "n_samples": 300, "noise": 0.1, "seed": 1},
            "model": {"layers": []},
            "training": {"optimizer": "sgd", "lr": 0.05, "batch_size": 16, "epochs": epochs, "seed": 2}}

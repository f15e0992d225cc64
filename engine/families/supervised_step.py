"""The supervised stepper: one model, one optimizer, one loss, `loss_fn(model(x), y)` per batch.

Classification, regression and forecasting share it; what differs (the loss, whether there is an
accuracy, extra validation columns) comes from the family.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional

import torch
from torch import nn

from ..data import Split
from ..family import Stepper
from ..model import penalized
from ..optimizers import OPTIMIZERS

EVAL_CHUNK = 8192  # rows per forward pass when evaluating


def unnested(model: nn.Sequential) -> nn.Sequential:
    """The model's own modules with each layer's (core, activation) block unpacked, for the hot loop.

    A block is an nn.Sequential, and each one costs an extra module call per forward: 3-4% of a
    small MLP's step time (bench/engine_bench.py). The modules, so the parameters and the train/eval
    mode, are shared with `model`, which keeps one child per layer for everything else.
    """
    flat: list[nn.Module] = []
    for child in model:
        flat.extend(child if type(child) is nn.Sequential else [child])
    return nn.Sequential(*flat)


class SupervisedStepper(Stepper):
    """Trains `model` on a Split with the spec's optimizer, l1/l2 and the family's loss."""

    engine = "autograd"  # the compute path the run's summary names (fused_dense.py is the other)

    def __init__(self, model: nn.Sequential, split: Split, device: torch.device, *, optimizer: str,
                 lr: float, l1: float, l2: float, loss: nn.Module, classes: bool,
                 extra_val: Callable[[], dict[str, Optional[float]]] | None = None) -> None:
        self.model = model
        self.device = device
        self.forward = unnested(model)
        self.optimizer = OPTIMIZERS.get(optimizer)(model.parameters(), lr)
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.loss_fn = loss
        self.classes = classes  # argmax predictions and an accuracy
        self.l1, self.l2 = l1, l2
        self.penalized = penalized(model)
        self.x_train = split.x_train.to(device)
        self.y_train = split.y_train.to(device)
        self.x_val = split.x_val.to(device)
        self.y_val = split.y_val.to(device)
        self.extra_val = extra_val

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def set_l2(self, l2: float) -> None:
        self.l2 = l2

    def penalty(self) -> torch.Tensor | float:
        """l2 * sum(w^2) + l1 * sum(|w|) over weight matrices and kernels."""
        pen: torch.Tensor | float = 0.0
        if self.l2 > 0:
            pen = pen + self.l2 * sum((p * p).sum() for p in self.penalized)
        if self.l1 > 0:
            pen = pen + self.l1 * sum(p.abs().sum() for p in self.penalized)
        return pen

    def train_epoch(self, order: torch.Tensor, batch_size: int) -> tuple[dict[str, Optional[float]], float]:
        """One pass over the training rows in `order`; the textbook loop's arithmetic with fewer dispatches.

        At our sizes (a few hundred microseconds a step) dispatch is most of the cost (bench/engine_bench.py):
          - the epoch's order is applied once, so a batch is a view, not a gather;
          - gradients are dropped by setting them to None, which is what
            `optimizer.zero_grad(set_to_none=True)` does, without its profiler hooks;
          - the loss is summed with one fused op, and predictions are written into a buffer that
            is compared with the labels once an epoch; no step syncs with the device.
        """
        n = len(self.x_train)
        order = order.to(self.device)
        xs, ys = self.x_train[order], self.y_train[order]
        self.model.train()
        forward, loss_fn, optimizer, params = self.forward, self.loss_fn, self.optimizer, self.params
        use_penalty = self.l1 > 0 or self.l2 > 0
        loss_sum = torch.zeros((), device=self.device)
        preds = torch.empty(n, dtype=torch.long, device=self.device) if self.classes else None
        t0 = time.perf_counter()
        for i in range(0, n, batch_size):
            b = min(batch_size, n - i)
            xb, yb = xs[i:i + b], ys[i:i + b]
            out = forward(xb)
            loss = loss_fn(out, yb)
            total = loss + self.penalty() if use_penalty else loss
            for p in params:
                p.grad = None
            total.backward()
            optimizer.step()
            loss_sum.add_(loss.detach(), alpha=b)
            if preds is not None:
                torch.argmax(out, dim=1, out=preds[i:i + b])
        train_loss = loss_sum.item() / n
        step_time = (time.perf_counter() - t0) / math.ceil(n / batch_size)
        out_m: dict[str, Optional[float]] = {"train_loss": train_loss}
        if self.classes:
            out_m["train_acc"] = (preds == ys).sum().item() / n  # type: ignore[operator]
        return out_m, step_time

    @torch.no_grad()
    def evaluate_on(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, Optional[float]]:
        """(mean loss, accuracy or None) in eval mode, without the penalty."""
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        for i in range(0, len(x), EVAL_CHUNK):
            xb, yb = x[i:i + EVAL_CHUNK], y[i:i + EVAL_CHUNK]
            out = self.forward(xb)
            loss_sum += self.loss_fn(out, yb) * len(xb)
            if self.classes:
                correct += (out.argmax(dim=1) == yb).sum()
        self.model.train()
        return loss_sum.item() / len(x), (correct.item() / len(x) if self.classes else None)

    def evaluate(self) -> dict[str, Optional[float]]:
        val_loss, val_acc = self.evaluate_on(self.x_val, self.y_val)
        out: dict[str, Optional[float]] = {"val_loss": val_loss}
        if self.classes:
            out["val_acc"] = val_acc
        if self.extra_val is not None:
            out.update(self.extra_val())
        return out

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(sd)

"""Task registry: what the output head is, which loss trains it, and which metrics it reports.

`forecasting`, `reconstruction` and `generation` register here too when their
architectures arrive; nothing else in the engine branches on the task's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .registry import Registry


@dataclass(frozen=True)
class Task:
    """How a task turns a dataset into a head, a loss and metrics."""

    name: str
    label: str
    # Output units of the head, from the dataset's number of classes (None for regression).
    head_units: Callable[[int | None], int]
    make_loss: Callable[[], nn.Module]
    # Whether the task reports accuracy; it is computed by `correct`.
    has_accuracy: bool
    # Datasets whose natural task is this one, or that can be read as one.
    accepts: Callable[[str], bool]
    description: str = ""

    def predict(self, logits: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted class of each row (into `out` when given). Only for tasks with accuracy."""
        return torch.argmax(logits, dim=1, out=out)

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """How many predictions in the batch are right, as a 0-d tensor (no sync)."""
        return (self.predict(logits) == y).sum()

    def baseline_loss(self, y_train: torch.Tensor) -> float:
        """The loss of the best constant prediction: what 'learned nothing' scores."""
        if self.has_accuracy:
            p = torch.bincount(y_train).float() / len(y_train)
            p = p[p > 0]
            return float(-(p * p.log()).sum())
        return float(y_train.float().var(unbiased=False))


TASKS: Registry[Task] = Registry("task")

TASKS.register("classification", Task(
    name="classification", label="Classification",
    head_units=lambda k: int(k or 2), make_loss=nn.CrossEntropyLoss, has_accuracy=True,
    accepts=lambda task: task == "classification",
    description="Softmax head with one unit per class; cross-entropy loss; accuracy."))

TASKS.register("regression", Task(
    name="regression", label="Regression",
    head_units=lambda k: 1, make_loss=nn.MSELoss, has_accuracy=False,
    accepts=lambda task: task == "regression",
    description="Linear head with one unit; mean squared error."))

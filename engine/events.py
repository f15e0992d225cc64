"""Typed records the trainer emits. The server turns them into wire messages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

# The columns of a run's history, in order. The server's `metrics` messages use the same names.
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "train_acc", "val_acc", "lr", "step_time")


@dataclass
class EpochMetrics:
    """One epoch. Losses exclude the l1/l2 penalty; accuracies are None for regression."""

    epoch: int
    train_loss: float
    val_loss: float
    train_acc: Optional[float]
    val_acc: Optional[float]
    lr: float
    step_time: float  # mean seconds per optimisation step in this epoch

    def to_dict(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies, and this runs once per epoch on the server's loop.
        return {"epoch": self.epoch, "train_loss": self.train_loss, "val_loss": self.val_loss,
                "train_acc": self.train_acc, "val_acc": self.val_acc, "lr": self.lr, "step_time": self.step_time}


@dataclass
class Remedy:
    """A fix the user can apply with one click: a JSON merge patch to the spec."""

    id: str
    label: str
    why: str
    patch: dict[str, Any]


@dataclass
class Diagnosis:
    """The verdict on a history and the numbers behind it."""

    verdict: str  # underfitting | overfitting | good_fit | diverged | too_early
    reason: str
    remedies: list[Remedy] = field(default_factory=list)
    epoch: int = 0
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EpochEvent:
    metrics: EpochMetrics


@dataclass
class DiagnosisEvent:
    diagnosis: Diagnosis


@dataclass
class SnapshotEvent:
    """A view of the model: kind is 'boundary', 'curve' or 'surface'; data is JSON-ready."""

    kind: str
    epoch: int
    data: dict[str, Any]


@dataclass
class EndEvent:
    """Last event of a run. val_loss and val_acc are those of the weights the run ends with:
    after early stopping with restore_best, the weights of epoch `weights_epoch`, not the last epoch's."""

    status: str  # finished | stopped | diverged
    epochs: int
    best_epoch: Optional[int]
    val_loss: Optional[float]
    verdict: Optional[str]
    stopped_early: bool = False
    advice: Optional[str] = None
    val_acc: Optional[float] = None
    weights_epoch: Optional[int] = None  # the epoch whose weights the run ends with


Event = EpochEvent | DiagnosisEvent | SnapshotEvent | EndEvent

"""Typed records the trainer emits. The server turns them into wire messages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

# The supervised families' history columns (classification, regression), in order: what runs saved
# before families existed hold. Each family names its own (Family.columns(); engine.family.columns_of).
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "train_acc", "val_acc", "lr", "step_time")


@dataclass
class EpochMetrics:
    """One epoch: its number, lr and step time, and the family's metrics by name (None where a
    value does not apply, or was NaN/inf: those never reach a history)."""

    epoch: int
    lr: float
    step_time: float  # mean seconds per optimisation step in this epoch
    values: dict[str, Optional[float]] = field(default_factory=dict)

    def get(self, name: str) -> Optional[float]:
        """A metric's value (None when the family has no such column)."""
        return self.values.get(name)

    def to_dict(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies, and this runs once per epoch on the server's loop.
        return {"epoch": self.epoch, **self.values, "lr": self.lr, "step_time": self.step_time}


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

    verdict: str  # underfitting | overfitting | good_fit | diverged | unstable | too_early
    reason: str
    remedies: list[Remedy] = field(default_factory=list)
    epoch: int = 0
    facts: dict[str, Any] = field(default_factory=dict)
    cause: Optional[str] = None  # an id of engine/causes.py's CAUSES; None when nothing is wrong
    evidence: dict[str, Any] = field(default_factory=dict)  # the numbers the cause's rule read
    also: list[str] = field(default_factory=list)  # other causes that hold, strongest first

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
    """A view of the model: kind names a registered View (engine/views.py), or 'insides'
    (engine/insides.py); data is JSON-ready."""

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
    val_loss: Optional[float]  # the monitored metric's last value (None for a family without one)
    verdict: Optional[str]
    stopped_early: bool = False
    advice: Optional[str] = None
    val_acc: Optional[float] = None
    weights_epoch: Optional[int] = None  # the epoch whose weights the run ends with


Event = EpochEvent | DiagnosisEvent | SnapshotEvent | EndEvent

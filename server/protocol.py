"""Wire messages, typed on both directions. Field names match docs/protocol.md and static/js/protocol.js."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from engine.viewkinds.image import CHOICES as PICK_CHOICES


# -- client to server ------------------------------------------------------------------------
class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SimpleControl(_Frame):
    action: Literal["pause", "resume", "step", "stop"]


class SetControl(_Frame):
    """Change lr and/or l2 from the next epoch on."""

    action: Literal["set"]
    lr: Optional[float] = Field(None, gt=0.0, le=1e9)
    l2: Optional[float] = Field(None, ge=0.0, le=1e3)


class PickControl(_Frame):
    """Pick validation example `index` (one of the thumbnails a feature_maps snapshot offers)."""

    action: Literal["pick"]
    index: int = Field(ge=0, lt=PICK_CHOICES)


PACE_MIN, PACE_MAX = 0.1, 1000.0  # epochs a second a pace may ask for (slower than 0.1 looks stuck)


class PaceControl(_Frame):
    """Train at most `epochs_per_s` epochs a second (slow motion, issue 13); null: full speed. The
    trainer waits between epochs, so pause and stop still answer at once."""

    action: Literal["pace"]
    epochs_per_s: Optional[float] = Field(ge=PACE_MIN, le=PACE_MAX, allow_inf_nan=False)


ControlFrame = Annotated[Union[SimpleControl, SetControl, PickControl, PaceControl], Field(discriminator="action")]
CONTROL_ACTIONS = ("pause", "resume", "step", "stop", "set", "pick", "pace")  # the union's tags
CONTROL_ADAPTER: TypeAdapter[Any] = TypeAdapter(ControlFrame)


# -- server to client ------------------------------------------------------------------------
class StatusMsg(BaseModel):
    type: Literal["status"] = "status"
    status: str


class MetricsMsg(BaseModel):
    """Columnar: every list has the same length; uPlot takes these as they are. Besides epoch, lr and
    step_time, a message carries the run's family's metric columns by name (the catalog lists them:
    `tasks[i].metrics`), e.g. train_loss, val_loss, train_acc, val_acc or naive_val_loss."""

    model_config = ConfigDict(extra="allow")
    type: Literal["metrics"] = "metrics"
    epoch: list[int]
    lr: list[float]
    step_time: list[float]


class DiagnosisMsg(BaseModel):
    type: Literal["diagnosis"] = "diagnosis"
    verdict: str
    reason: str
    remedies: list[dict[str, Any]]
    epoch: int
    facts: dict[str, Any] = {}
    cause: Optional[str] = None
    evidence: dict[str, Any] = {}
    also: list[str] = []


class SnapshotMsg(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["snapshot"] = "snapshot"
    kind: str
    epoch: int


class ErrorMsg(BaseModel):
    type: Literal["error"] = "error"
    message: str
    path: Optional[str] = None


class EndMsg(BaseModel):
    type: Literal["end"] = "end"
    status: str
    epochs: int
    best_epoch: Optional[int] = None
    val_loss: Optional[float] = None  # the monitored metric of the weights kept, epoch `weights_epoch`
    val_acc: Optional[float] = None
    weights_epoch: Optional[int] = None
    verdict: Optional[str] = None
    stopped_early: bool = False
    advice: Optional[str] = None
    error: Optional[str] = None


ServerMessage = Annotated[Union[StatusMsg, MetricsMsg, DiagnosisMsg, SnapshotMsg, ErrorMsg, EndMsg],
                          Field(discriminator="type")]


def metrics_message(columns: dict[str, list]) -> dict[str, Any]:
    """A `metrics` message from a run's history columns, whichever its family's (no copy of
    validation: the trainer made them)."""
    return {"type": "metrics", **columns}

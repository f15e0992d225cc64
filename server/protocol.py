"""Wire messages, typed on both directions. Field names match docs/protocol.md and static/js/protocol.js."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from engine.events import HISTORY_COLUMNS


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


ControlFrame = Annotated[Union[SimpleControl, SetControl], Field(discriminator="action")]
CONTROL_ADAPTER: TypeAdapter[Any] = TypeAdapter(ControlFrame)


# -- server to client ------------------------------------------------------------------------
class StatusMsg(BaseModel):
    type: Literal["status"] = "status"
    status: str


class MetricsMsg(BaseModel):
    """Columnar: every list has the same length; uPlot takes these as they are."""

    type: Literal["metrics"] = "metrics"
    epoch: list[int]
    train_loss: list[Optional[float]]
    val_loss: list[Optional[float]]
    train_acc: list[Optional[float]]
    val_acc: list[Optional[float]]
    lr: list[float]
    step_time: list[float]


assert tuple(MetricsMsg.model_fields)[1:] == HISTORY_COLUMNS  # one list of names, both sides


class DiagnosisMsg(BaseModel):
    type: Literal["diagnosis"] = "diagnosis"
    verdict: str
    reason: str
    remedies: list[dict[str, Any]]
    epoch: int
    facts: dict[str, Any] = {}


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
    val_loss: Optional[float] = None  # of the weights kept, epoch `weights_epoch`
    val_acc: Optional[float] = None
    weights_epoch: Optional[int] = None
    verdict: Optional[str] = None
    stopped_early: bool = False
    advice: Optional[str] = None
    error: Optional[str] = None


ServerMessage = Annotated[Union[StatusMsg, MetricsMsg, DiagnosisMsg, SnapshotMsg, ErrorMsg, EndMsg],
                          Field(discriminator="type")]


def metrics_message(columns: dict[str, list]) -> dict[str, Any]:
    """A `metrics` message from history columns (no copy of validation: the trainer made them)."""
    return {"type": "metrics", **{c: columns[c] for c in HISTORY_COLUMNS}}

"""A run's state on the event loop: its status machine, history, latest views and subscribers.

Only the event loop touches a Run. Worker threads reach it through the manager's EventPipe.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from enum import Enum
from typing import Any, Optional

from engine.control import Control
from engine.family import columns_of
from engine.spec import ExperimentSpec

from .protocol import metrics_message


class RunStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"  # was going when the server stopped


_ENDS = {RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FAILED, RunStatus.DIVERGED, RunStatus.INTERRUPTED}
TRANSITIONS: dict[RunStatus, set[RunStatus]] = {
    RunStatus.QUEUED: {RunStatus.RUNNING, RunStatus.STOPPED, RunStatus.FAILED, RunStatus.INTERRUPTED},
    RunStatus.RUNNING: {RunStatus.PAUSED} | _ENDS,
    RunStatus.PAUSED: {RunStatus.RUNNING} | _ENDS,
    **{s: set() for s in _ENDS},
}
TERMINAL = frozenset(_ENDS)
INTERRUPTED_ERROR = "the server stopped while this run was going"  # the error of an `interrupted` run


class IllegalTransition(Exception):
    """A status change the state machine does not allow (the API answers 409)."""


class Subscriber:
    """One websocket client's pending messages. Metrics accumulate (never dropped);
    views keep only their latest value; status and end always arrive."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.names = columns  # the run's family's history columns
        self.columns: dict[str, list] = {c: [] for c in columns}
        self.statuses: list[str] = []
        self.diagnosis: Optional[dict] = None
        self.snapshots: dict[str, dict] = {}
        self.errors: list[dict] = []
        self.end: Optional[dict] = None
        self.closed = False  # set on server shutdown
        self.wake = asyncio.Event()

    def add_row(self, row: dict[str, Any]) -> None:
        for c in self.names:
            self.columns[c].append(row.get(c))
        self.wake.set()

    def add(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "status":
            if not self.statuses or self.statuses[-1] != msg["status"]:
                self.statuses.append(msg["status"])
        elif kind == "diagnosis":
            self.diagnosis = msg
        elif kind == "snapshot":
            self.snapshots[msg["kind"]] = msg
        elif kind == "error":
            self.errors.append(msg)
        elif kind == "end":
            self.end = msg
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    def drain(self) -> list[dict[str, Any]]:
        """Everything pending, in order: status, metrics, diagnosis, views, errors, end."""
        out: list[dict[str, Any]] = [{"type": "status", "status": s} for s in self.statuses]
        if self.columns["epoch"]:
            out.append(metrics_message(self.columns))
            self.columns = {c: [] for c in self.names}
        if self.diagnosis:
            out.append(self.diagnosis)
        out.extend(self.snapshots.values())
        out.extend(self.errors)
        if self.end:
            out.append(self.end)
        self.statuses, self.diagnosis, self.snapshots, self.errors = [], None, {}, []
        self.end = None
        self.wake.clear()
        return out


def new_id() -> str:
    return uuid.uuid4().hex


class Run:
    """A run: what it trains, where it stands, and who is watching."""

    def __init__(self, spec: ExperimentSpec, summary: dict[str, Any], *, run_id: str | None = None,
                 label: str | None = None, name: str | None = None, number: int | None = None,
                 parent: str | None = None,
                 session_id: str | None = None, status: RunStatus = RunStatus.QUEUED, created_at: float | None = None) -> None:
        self.id = run_id or new_id()
        self.spec = spec
        self.summary = summary
        self.label = label
        self.name = name
        self.number = number  # its number on the page ("Run 3"), which gives its colour; a rename keeps it
        self.device: Optional[str] = None  # the device it trains on, as the server resolved 'auto'
        self.parent = parent
        self.session_id = session_id
        self.created_at = created_at or time.time()
        self._status = status
        self.control = Control()
        self.columns = columns_of(spec.task, spec)  # the family's history columns (an ensemble's spread too)
        self.history: dict[str, list] = {c: [] for c in self.columns}
        self.diagnosis: Optional[dict] = None
        self.snapshots: dict[str, dict] = {}
        self.best_epoch: Optional[int] = None
        self.stopped_early = False
        self.error: Optional[str] = None
        self.advice: Optional[str] = None
        self.end: Optional[dict] = None
        self.weights: dict[str, bytes] = {}  # "final" / "best" -> safetensors bytes, until saved
        self.has_weights = False
        self.subscribers: set[Subscriber] = set()
        self.dirty = True  # not yet written to the store
        self.discarded = False  # its session was deleted: never written again

    # -- status machine --------------------------------------------------------------------
    @property
    def status(self) -> RunStatus:
        return self._status

    def transition(self, new: RunStatus) -> None:
        """Move to `new`, or raise IllegalTransition."""
        if new == self._status:
            return
        if new not in TRANSITIONS[self._status]:
            raise IllegalTransition(f"run {self.id} is {self._status.value}; cannot become {new.value}")
        self._status = new
        self.dirty = True
        self.publish({"type": "status", "status": new.value})

    @property
    def terminal(self) -> bool:
        return self._status in TERMINAL

    # -- state from the trainer ------------------------------------------------------------------
    def add_epoch(self, row: dict[str, Any]) -> None:
        for c in self.columns:
            self.history[c].append(row.get(c))
        self.dirty = True
        for s in self.subscribers:
            s.add_row(row)

    def set_diagnosis(self, d: dict[str, Any]) -> None:
        self.diagnosis = {"type": "diagnosis", **d}
        self.dirty = True
        self.publish(self.diagnosis)

    def set_snapshot(self, kind: str, epoch: int, data: dict[str, Any]) -> None:
        msg = {"type": "snapshot", **data, "kind": kind, "epoch": epoch}
        self.snapshots[kind] = msg
        self.publish(msg)

    def finish(self, status: RunStatus, end: dict[str, Any]) -> None:
        """Enter a terminal status and tell every subscriber how it ended."""
        self.transition(status)
        self.end = self.end_message(**end)
        self.dirty = True
        self.publish(self.end)

    def end_message(self, val_loss: Optional[float] = None, verdict: Optional[str] = None,
                    val_acc: Optional[float] = None, weights_epoch: Optional[int] = None) -> dict[str, Any]:
        """The `end` message of a run that has ended, from its own state.

        val_loss (the family's monitored metric; the wire name predates families) and val_acc are
        those of the weights the run ends with (epoch `weights_epoch`).
        """
        return {"type": "end", "status": self._status.value, "epochs": len(self.history["epoch"]),
                "best_epoch": self.best_epoch, "val_loss": val_loss, "val_acc": val_acc,
                "weights_epoch": weights_epoch, "verdict": verdict,
                "stopped_early": self.stopped_early, "advice": self.advice, "error": self.error}

    def publish(self, msg: dict[str, Any]) -> None:
        for s in self.subscribers:
            s.add(msg)

    # -- subscribers ------------------------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        """A new subscriber, pre-filled with the replay of everything so far."""
        sub = Subscriber(self.columns)
        sub.add({"type": "status", "status": self._status.value})
        for c in self.columns:
            sub.columns[c] = list(self.history.get(c, []))
        if self.diagnosis:
            sub.add(self.diagnosis)
        for snap in self.snapshots.values():
            sub.add(snap)
        if self.end:
            sub.add(self.end)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    # -- views ----------------------------------------------------------------------------------
    def public(self) -> dict[str, Any]:
        """GET /api/runs/{id}."""
        diag = {k: v for k, v in self.diagnosis.items() if k != "type"} if self.diagnosis else None
        return {"id": self.id, "status": self._status.value, "label": self.label, "name": self.name,
                "number": self.number,
                "parent": self.parent,
                "session_id": self.session_id, "in_session": self.session_id is not None, "spec": self.spec.to_json(), "summary": self.summary,
                "history": self.history, "diagnosis": diag, "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early, "error": self.error, "advice": self.advice,
                "snapshots": {k: {kk: vv for kk, vv in v.items() if kk != "type"} for k, v in self.snapshots.items()},
                "created_at": self.created_at, "has_weights": self.has_weights}

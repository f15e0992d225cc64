"""The run manager: all concurrency lives here.

Each run trains where the executor puts it (server/executors/): on its own worker thread by
default (torch releases the GIL; a thread starts at once where a spawned process needs ~3 s to
import torch), or on a warm Ray actor. Memory is bounded by strict caps
checked before a run starts (parameters, samples, estimated activation memory, epochs,
wall time) rather than by process isolation. A worker's events cross to the event loop
through a bounded EventPipe and `loop.call_soon_threadsafe`; a worker that raises moves its
run to `failed` with the reason, and the server carries on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, Optional

from engine.events import DiagnosisEvent, EndEvent, EpochEvent, SnapshotEvent
from engine.family import monitor_of
from engine.shapes import infer
from engine.spec import ExperimentSpec

from engine.device import device_name

from .executors import Executor, check_device, make_executor
from .protocol import PaceControl, PickControl, SetControl
from .runs import INTERRUPTED_ERROR, TERMINAL, IllegalTransition, Run, RunStatus
from .settings import Settings
from .store import Store

log = logging.getLogger("layerlab.runs")
PIPE_CAPACITY = 10_000  # events a worker may run ahead of the event loop before it waits
DRAIN_INTERVAL_S = 0.02  # the loop takes a worker's events at most this often
KEEP_TERMINAL = 200  # finished runs kept in memory; older ones are read back from the database
LIVE_STATUSES = tuple(s.value for s in RunStatus if s not in TERMINAL)
RETRY_AFTER_S = 2  # Retry-After of a 503 for a busy database
SAVE_BACKOFF_S = (0.05, 2.0)  # a failed write is retried after 50 ms, doubling up to 2 s
SHUTDOWN_SAVE_S = 15.0  # at shutdown, how long the last writes are retried before the server gives up


class TooBusy(Exception):
    """The queue is full (the API answers 429)."""


class EventPipe:
    """Worker thread -> event loop. Bounded: a worker that runs too far ahead waits.

    The loop is woken at most once per DRAIN_INTERVAL_S: at hundreds of epochs a second, a wake-up
    per epoch cost the trainer a few percent in GIL hand-overs. It adds at most that much latency,
    well inside the websocket's 50 ms coalescing window."""

    def __init__(self, loop: asyncio.AbstractEventLoop, apply: Callable[[Any], None]) -> None:
        self._loop = loop
        self._apply = apply
        self._items: deque[Any] = deque()
        self._cond = threading.Condition()
        self._scheduled = False
        self._last_drain = 0.0
        self.closed = False

    def put(self, item: Any) -> None:
        with self._cond:
            while len(self._items) >= PIPE_CAPACITY and not self.closed:
                self._cond.wait(0.5)
            self._items.append(item)
            if self._scheduled:
                return
            self._scheduled = True
            delay = DRAIN_INTERVAL_S - (time.monotonic() - self._last_drain)
        try:
            self._loop.call_soon_threadsafe(self._arm, delay)
        except RuntimeError:  # the loop has closed: the server is gone
            self.closed = True

    def _arm(self, delay: float) -> None:
        if delay > 0:
            self._loop.call_later(delay, self._drain)
        else:
            self._drain()

    def apply_now(self, item: Any) -> None:
        """On the loop: apply an item at once (for a source that is itself on the loop, e.g. a remote trainer's feed)."""
        try:
            self._apply(item)
        except Exception:
            log.exception("applying a worker event failed")

    def _drain(self) -> None:
        with self._cond:
            items = list(self._items)
            self._items.clear()
            self._scheduled = False
            self._last_drain = time.monotonic()
            self._cond.notify_all()
        for item in items:
            try:
                self._apply(item)
            except Exception:  # one bad event must not kill the loop's callback
                log.exception("applying a worker event failed")


class RunManager:
    """Queues, limits and workers; owns every Run that is live or recently ended."""

    def __init__(self, settings: Settings, store: Store, executor: Optional[Executor] = None) -> None:
        self.settings = settings
        self.store = store
        self.executor = executor or make_executor(settings, store)
        self.limits = settings.limits()
        self.runs: dict[str, Run] = {}
        self.pending: deque[Run] = deque()
        self.active = 0
        self.shutting_down = False
        self._threads: dict[str, Any] = {}  # run id -> its worker (anything with is_alive())
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="layerlab-db")
        self._flusher: Optional[asyncio.Task] = None
        self._saving: set[asyncio.Task] = set()  # end-of-run writes in progress (strong references)
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        # Hooks for split providers (e.g. uploaded CSV data): spec -> Split or None.
        self.split_provider: Optional[Callable[[ExperimentSpec], Any]] = None
        # Checks a spec's supplied data before a run is queued: (spec, session_id); raises SpecError.
        self.data_check: Optional[Callable[[ExperimentSpec, Optional[str]], Awaitable[None]]] = None

    # -- life cycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        n = await self.executor.start(self)
        if n:
            log.warning("%d run(s) were left going by a previous server and are now 'interrupted'", n)
        self._flusher = asyncio.create_task(self._flush_loop())

    async def shutdown(self, timeout: float = 3.0) -> None:
        """Stop every run, close every stream, write what is left."""
        self.shutting_down = True
        if self.executor.remote:  # the runs go on on the cluster; another replica serves them
            await self.executor.shutdown(self)
        for run in list(self.runs.values()):
            for sub in list(run.subscribers):
                sub.close()
            if run.status == RunStatus.QUEUED:
                run.finish(RunStatus.INTERRUPTED, {})
            elif not run.terminal:
                run.control.stop()
        self.pending.clear()
        deadline = time.monotonic() + timeout
        while any(t.is_alive() for t in self._threads.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self._flusher:
            self._flusher.cancel()
        for run in list(self.runs.values()):
            if not run.terminal:  # a worker that did not stop in time
                run.error = INTERRUPTED_ERROR
                run.finish(RunStatus.INTERRUPTED, {})
        await self.flush_all(deadline=time.monotonic() + SHUTDOWN_SAVE_S)
        for task in list(self._saving):
            task.cancel()
        self._db.shutdown(wait=True)

    async def db(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking store call on the single database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    # -- creating and finding runs -----------------------------------------------------------------
    def validate(self, spec: ExperimentSpec) -> dict[str, Any]:
        """Shape inference under the server's caps, and a device this server has; raises SpecError."""
        summary = infer(spec, self.limits).to_dict()
        check_device(spec.training.device, self.executor.devices())
        return summary

    async def create(self, spec: ExperimentSpec, *, label: str | None = None, name: str | None = None,
                     parent: str | None = None, session_id: str | None = None,
                     pace: float | None = None, number: int | None = None) -> Run:
        """Validate, persist and queue a run, paced at `pace` epochs a second from its first epoch
        (None: full speed). Raises SpecError or TooBusy."""
        if self.shutting_down:
            raise TooBusy("the server is shutting down")
        if len(self.pending) >= self.settings.max_queued_runs:
            raise TooBusy(f"{len(self.pending)} runs are already waiting; try again later")
        summary = self.validate(spec)
        if self.data_check is not None:
            await self.data_check(spec, session_id)
        run = Run(spec, summary, label=label, name=name, number=number, parent=parent, session_id=session_id)
        run.device = device_name(spec.training.device, self.executor.devices())  # what the page shows
        run.control.set_pace(pace)
        self.runs[run.id] = run
        try:
            await self.save(run)
        except BaseException:  # e.g. a locked database (503): the run never existed
            del self.runs[run.id]
            raise
        self.pending.append(run)
        self._schedule()
        return run

    async def get(self, run_id: str) -> Optional[Run]:
        """A live or recent run from memory, else a finished one read back from the database."""
        run = self.runs.get(run_id)
        if run is not None:
            return run
        if not (isinstance(run_id, str) and len(run_id) <= 64):
            return None
        row = await self.db(self.store.load_run, run_id)
        if row is None:
            return None
        if self.executor.remote and row.status in LIVE_STATUSES:  # going on the cluster: watch it live
            return await self.executor.attach(self, row) or run_from_row(row)
        return run_from_row(row)

    # -- scheduling -------------------------------------------------------------------------------
    def _schedule(self) -> None:
        while self.active < self.executor.capacity() and self.pending and not self.shutting_down:
            run = self.pending.popleft()
            if run.status == RunStatus.QUEUED:
                self._launch(run)

    def _launch(self, run: Run) -> None:
        assert self.loop is not None
        self.active += 1
        pipe = EventPipe(self.loop, lambda item: self._apply(run, item))
        self._threads[run.id] = self.executor.launch(run, pipe, self.split_provider)
        self._timers[run.id] = self.loop.call_later(self.settings.max_run_seconds, self._timeout, run)

    def _apply(self, run: Run, item: Any) -> None:
        """On the loop: one event from a worker."""
        if apply_item(run, item, self.shutting_down) == "done":
            self._release(run)

    def _release(self, run: Run) -> None:
        self.active -= 1
        self._threads.pop(run.id, None)
        timer = self._timers.pop(run.id, None)
        if timer:
            timer.cancel()
        if not run.terminal:  # the worker ended without an end event
            run.error = run.error or "the worker ended unexpectedly"
            run.finish(RunStatus.FAILED, {})
        if self.loop and not self.shutting_down:
            self._saving.add(task := self.loop.create_task(self.persist(run)))  # retried until on disk
            task.add_done_callback(self._saving.discard)
        self._evict()
        self._schedule()

    def _timeout(self, run: Run) -> None:
        if not run.terminal:
            run.error = f"stopped: the run passed its {self.settings.max_run_seconds:g} s wall-time cap"
            run.control.stop()

    def _evict(self) -> None:
        ended = [r for r in self.runs.values() if r.terminal and not r.subscribers and not r.dirty]
        for r in ended[: max(0, len(ended) - KEEP_TERMINAL)]:
            del self.runs[r.id]

    # -- controls -----------------------------------------------------------------------------------
    def control(self, run: Run, frame: Any) -> RunStatus:
        """Apply a control frame; raises IllegalTransition where the status does not allow it."""
        if run.terminal:
            raise IllegalTransition(f"run {run.id} has already ended ({run.status.value})")
        if isinstance(frame, SetControl):
            run.control.set(lr=frame.lr, l2=frame.l2)
            return run.status
        if isinstance(frame, PaceControl):
            run.control.set_pace(frame.epochs_per_s)  # from the next epoch on, queued or paused too
            return run.status
        if isinstance(frame, PickControl):
            run.control.pick(frame.index)  # answered at the next epoch, or at once while paused
            return run.status
        action = frame.action
        if action == "stop":
            self._stop(run)
            return run.status
        if run.status == RunStatus.QUEUED:
            if action in ("pause", "step"):
                run.control.pause()
                return run.status
            raise IllegalTransition(f"run {run.id} is queued; it cannot {action}")
        if action == "pause":
            run.control.pause()
            run.transition(RunStatus.PAUSED)
        elif action == "resume":
            run.control.resume()
            run.transition(RunStatus.RUNNING)
        elif action == "step":
            # Paused: one more epoch, then paused again. Running: paused after the next epoch (_apply).
            run.control.step()
        return run.status

    def _stop(self, run: Run) -> None:
        """Stop a live run: its worker ends a started one; a queued one ends at once."""
        run.control.stop()
        if run.status == RunStatus.QUEUED:
            if run in self.pending:  # it no longer waits: health and the queue cap must not count it
                self.pending.remove(run)
            run.finish(RunStatus.STOPPED, {})

    def discard(self, session_id: str) -> None:
        """Before a session is deleted: stop its live runs and never write any of them again."""
        for run in [r for r in self.runs.values() if r.session_id == session_id]:
            run.discarded = True
            if not run.terminal:
                self._stop(run)
            del self.runs[run.id]

    async def save_session(self, session_id: str) -> None:
        """Write the live runs of a session now (e.g. before it is forked)."""
        for run in [r for r in self.runs.values() if r.session_id == session_id and r.dirty]:
            await self.save(run)

    # -- persistence ------------------------------------------------------------------------------
    async def save(self, run: Run) -> None:
        """Write a run once; raises the database's error. The run stays dirty unless the write landed."""
        if run.discarded or not self.executor.writes_row(run):
            return  # its session was deleted, or its trainer writes it
        # The state is taken and the flag lowered in one step of the loop, so a change made while
        # the write is in flight raises it again; a write that fails raises it again too.
        run.dirty = False
        state = run_row_state(run)
        try:
            await self.db(self.store.save_run, state)
        except BaseException:
            run.dirty = True
            raise
        if run.terminal and "weights_final" in state:
            run.weights = {}  # in the database now; read back from there when downloaded

    async def persist(self, run: Run, deadline: float | None = None) -> bool:
        """Write a run, retrying with backoff until it lands, the server stops or `deadline`
        (time.monotonic()) passes. Never raises; True once the run is on disk."""
        delay = SAVE_BACKOFF_S[0]
        while True:
            try:
                await self.save(run)
                return True
            except Exception as e:  # a locked or full database: keep the result and try again
                log.warning("writing run %s failed (%s); retrying in %.2f s", run.id, type(e).__name__, delay)
            if (deadline is not None and time.monotonic() + delay > deadline) or \
                    (deadline is None and self.shutting_down):
                return False  # shutdown's flush_all takes over
            await asyncio.sleep(delay)
            delay = min(delay * 2, SAVE_BACKOFF_S[1])

    async def flush_all(self, deadline: float | None = None) -> None:
        """Write every dirty run; with a deadline, retry each until it lands or the deadline passes."""
        for run in list(self.runs.values()):
            if run.dirty:
                if deadline is None:
                    await self.save(run)
                elif not await self.persist(run, deadline):
                    log.error("run %s could not be written before shutdown; its last changes are lost", run.id)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_seconds)
            try:
                await self.flush_all()
            except Exception:
                log.exception("writing runs to the database failed")

    def counts(self) -> dict[str, int]:
        return {"active": self.active, "queued": len(self.pending)}


def apply_item(run: Run, item: Any, shutting_down: bool = False) -> Optional[str]:
    """One item of a run's worker applied to the run's state (wherever the Run lives: a server's
    loop, or a remote trainer's copy). Returns "done" for the worker's last item."""
    if isinstance(item, EpochEvent):
        run.add_epoch(item.metrics.to_dict())
        if run.control.paused and run.status == RunStatus.RUNNING:
            run.transition(RunStatus.PAUSED)  # a `step` on a running run pauses it
    elif isinstance(item, DiagnosisEvent):
        run.set_diagnosis(item.diagnosis.to_dict())
    elif isinstance(item, SnapshotEvent):
        run.set_snapshot(item.kind, item.epoch, item.data)
    elif isinstance(item, EndEvent):
        run.best_epoch, run.stopped_early, run.advice = item.best_epoch, item.stopped_early, item.advice
        status = RunStatus(item.status)
        if status == RunStatus.STOPPED and shutting_down:
            status = RunStatus.INTERRUPTED
        if run.error is None and status == RunStatus.INTERRUPTED:
            run.error = INTERRUPTED_ERROR
        if not run.terminal:
            run.finish(status, {"val_loss": item.val_loss, "val_acc": item.val_acc,
                                "weights_epoch": item.weights_epoch, "verdict": item.verdict})
    elif isinstance(item, tuple):
        kind, payload = item
        if kind == "weights":
            run.weights, run.has_weights = payload, True
        elif kind == "failed":
            run.error = payload
            run.advice = "The run raised an error. Check the spec, or try a smaller model or batch."
            if not run.terminal:
                run.finish(RunStatus.FAILED, {})
        elif kind == "status":  # a change made on a remote trainer (e.g. paused from another replica)
            if not run.terminal:
                run.transition(RunStatus(payload))
        elif kind == "done":
            return "done"
    return None


def run_row_state(run: Run) -> dict[str, Any]:
    """A Run as RunRow's columns."""
    state: dict[str, Any] = {
        "id": run.id, "session_id": run.session_id, "label": run.label, "name": run.name, "number": run.number,
        "parent_id": run.parent,
        "status": run.status.value, "spec": run.spec.to_json(), "summary": run.summary,
        "history": {k: list(v) for k, v in run.history.items()},
        "diagnosis": run.diagnosis, "snapshots": dict(run.snapshots), "best_epoch": run.best_epoch,
        "stopped_early": run.stopped_early, "error": run.error, "advice": run.advice,
        "created_at": run.created_at, "result": _result(run.end)}
    if run.weights:
        state["weights_final"] = run.weights.get("final")
        state["weights_best"] = run.weights.get("best")
        state["has_weights"] = True
    return state


def _result(end: Optional[dict]) -> Optional[dict]:
    """What a run ended with (the final weights' metrics), kept so that a restored run says the same."""
    if not end:
        return None
    return {k: end.get(k) for k in ("val_loss", "val_acc", "weights_epoch")}


def run_from_row(row: Any) -> Run:
    """A finished run read back from the database (its weights stay there)."""
    spec = ExperimentSpec.model_validate(row.spec)
    run = Run(spec, row.summary or {}, run_id=row.id, label=row.label, name=row.name, number=row.number,
              parent=row.parent_id,
              session_id=row.session_id, status=RunStatus(row.status), created_at=row.created_at)
    run.history = row.history
    run.diagnosis = row.diagnosis
    run.snapshots = row.snapshots or {}
    run.best_epoch, run.stopped_early = row.best_epoch, row.stopped_early
    run.error, run.advice = row.error, row.advice
    run.dirty = False
    run.has_weights = bool(row.has_weights)
    if run.terminal:
        # Rows saved before `result` existed fall back to the last epoch's metrics.
        monitor = monitor_of(spec.task)
        result = row.result or {"val_loss": (run.history.get(monitor) or [None])[-1] if monitor else None,
                                "val_acc": (run.history.get("val_acc") or [None])[-1]}
        run.end = run.end_message(verdict=(row.diagnosis or {}).get("verdict"), **result)
    return run

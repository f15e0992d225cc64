"""The Ray side of the Ray executor: a pool actor that queues runs, and warm trainer actors.

RunPool (one per cluster and database, detached, named for the database) owns the trainers and the queue of runs
waiting for one. It outlives every web replica, so a replica killed with kill -9 loses no run.
RunWorker (one per CPU, or per GPU with num_gpus=1) imports torch and trains a tiny model once
when it starts, so that a run starts in milliseconds. It trains one run at a time, with the same
engine and Control as a local thread, and

  - keeps the run's events in an append-only log that any replica long-polls (`poll`): the replica
    feeds them to its RunManager as if they came from a local thread (replay is the log from 0);
  - applies controls from any replica (`control`), and logs the status changes they make;
  - is the one writer of the run's row while it trains: flushed every LAYERLAB_FLUSH_SECONDS, and
    written with the weights before the log says `end`, retried while PostgreSQL restarts.

Items cross between our own processes with Ray's serialisation; nothing a user sent is unpickled.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections import deque
from typing import Any, Optional

import ray

log = logging.getLogger("layerlab.ray")
POOL_PREFIX = "layerlab-pool-"
NAMESPACE = "layerlab"
SAVE_RETRY_S = 60.0  # how long a trainer keeps retrying a write while the database is away
KEEP_LOGS = 32  # ended runs whose logs a trainer keeps for late viewers
WORKER_DIED = "the Ray worker training this run died ({})"


def pool_name(database_url: str) -> str:
    """The pool of the replicas that share this database (a cluster may serve several Layerlabs)."""
    return POOL_PREFIX + hashlib.sha256(database_url.encode()).hexdigest()[:16]


def _save(store: Any, state: dict[str, Any], deadline_s: float = SAVE_RETRY_S) -> None:
    """store.save_run, retried with backoff while the database cannot be reached (e.g. PostgreSQL restarting)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    delay, deadline = 0.1, time.monotonic() + deadline_s
    while True:
        try:
            return store.save_run(state)
        except (OperationalError, InterfaceError) as e:  # the connection, not the row: worth retrying
            if time.monotonic() > deadline:
                raise
            log.warning("writing run %s failed (%s); retrying in %.1f s", state.get("id"), type(e).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class RunLog:
    """One run's events, in order; snapshots keep only the latest of each kind (older ones become None)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cond = threading.Condition()
        self._snapshot_at: dict[str, int] = {}
        self.done = False

    def put(self, item: Any) -> None:
        from engine.events import SnapshotEvent

        with self.cond:
            if isinstance(item, SnapshotEvent):
                old = self._snapshot_at.get(item.kind)
                if old is not None:
                    self.items[old] = None
                self._snapshot_at[item.kind] = len(self.items)
            if isinstance(item, tuple) and item[0] == "done":
                self.done = True
            self.items.append(item)
            self.cond.notify_all()

    def since(self, cursor: int, timeout: float) -> tuple[list[Any], int]:
        """Items from `cursor` on, waiting up to `timeout` s for one; and the next cursor."""
        with self.cond:
            if len(self.items) <= cursor and not self.done:
                self.cond.wait(timeout)
            return [i for i in self.items[cursor:] if i is not None], len(self.items)


@ray.remote(concurrency_groups={"poll": 64, "control": 1})
class RunWorker:
    """A warm trainer: torch imported, one tiny run done, then one run at a time (see the module's docstring)."""

    def __init__(self, database_url: str, settings: dict[str, Any]) -> None:
        import torch

        from ..app import warm_up
        from ..settings import Settings
        from ..store import Store
        from ..uploads import Uploads

        torch.set_num_threads(1)  # one torch thread per run, as the local executor
        warm_up()
        self.settings = Settings(**settings)
        self.store = Store(database_url)
        self.uploads = Uploads(self.store, self.settings.max_samples)
        self.logs: dict[str, RunLog] = {}
        self.runs: dict[str, Any] = {}  # run id -> its server.runs.Run while it trains
        self.lock = threading.Lock()

    def pid(self) -> int:
        return os.getpid()

    def ready(self) -> bool:
        return True

    def train(self, run_id: str, spec_json: dict[str, Any], meta: dict[str, Any]) -> str:
        """Train a run to its end (this call lasts as long as the run); returns its final status."""
        from engine.spec import ExperimentSpec

        from ..manager import run_row_state
        from ..runs import Run, RunStatus
        from .local import train

        spec = ExperimentSpec.model_validate(spec_json)
        run = Run(spec, meta["summary"], run_id=run_id, label=meta.get("label"), name=meta.get("name"),
                  number=meta.get("number"),
                  parent=meta.get("parent"),
                  session_id=meta.get("session_id"), created_at=meta.get("created_at"))
        runlog = RunLog()
        with self.lock:
            self.logs[run_id] = runlog
            self.runs[run_id] = run
            while len(self.logs) > KEEP_LOGS:
                self.logs.pop(next(iter(self.logs)))
        if meta.get("paused"):
            run.control.pause()
        if meta.get("lr") is not None or meta.get("l2") is not None:
            run.control.set(lr=meta.get("lr"), l2=meta.get("l2"))
        run.control.set_pace(meta.get("pace"))
        self._status(run, runlog, RunStatus.RUNNING)
        if run.control.paused:
            self._status(run, runlog, RunStatus.PAUSED)
        cap = threading.Timer(self.settings.max_run_seconds, self._cap, args=(run,))
        cap.daemon = True
        cap.start()
        last_flush = [time.monotonic()]
        held: list[Any] = []

        def put(item: Any) -> None:
            self._record(run, runlog, item, held)
            if time.monotonic() - last_flush[0] >= self.settings.flush_seconds and not run.terminal:
                last_flush[0] = time.monotonic()
                try:
                    _save(self.store, run_row_state(run), deadline_s=0)  # a flush may wait for the next one
                except Exception:
                    log.exception("flushing run %s failed", run_id)

        try:
            train(spec, self.settings.limits(), run.control, put, self.uploads.split, run_id)
        finally:
            cap.cancel()
            try:
                _save(self.store, run_row_state(run))  # the end and the weights, before any viewer hears of it
            except Exception:  # e.g. its session was deleted meanwhile: the run is not written again
                log.exception("writing run %s at its end failed", run_id)
            run.weights = {}
            for item in held:
                runlog.put(item)
            with self.lock:
                self.runs.pop(run_id, None)
        return run.status.value

    def _record(self, run: Any, runlog: RunLog, item: Any, held: list[Any]) -> None:
        """Apply an item to this trainer's copy of the run; log it (the end only once it is saved)."""
        from engine.events import EndEvent

        from ..runs import RunStatus
        from ..manager import apply_item

        before = run.status
        apply_item(run, item)
        if isinstance(item, tuple) and item[0] == "weights":
            item = ("weights", {})  # the bytes go to the database, not to every viewer
        if isinstance(item, EndEvent) or (isinstance(item, tuple) and item[0] in ("failed", "done", "weights")):
            held.append(item)
        else:
            runlog.put(item)
        if run.status != before and run.status == RunStatus.PAUSED and not run.terminal:
            runlog.put(("status", run.status.value))  # a step on a running run paused it

    def _status(self, run: Any, runlog: RunLog, status: Any) -> None:
        run.transition(status)
        runlog.put(("status", status.value))

    def _cap(self, run: Any) -> None:
        if not run.terminal:
            run.error = f"stopped: the run passed its {self.settings.max_run_seconds:g} s wall-time cap"
            run.control.stop()

    @ray.method(concurrency_group="control")
    def control(self, run_id: str, action: str, lr: Optional[float] = None,
                l2: Optional[float] = None, pace: Optional[float] = None) -> Optional[str]:
        """Steer a run this trainer has (as RunManager.control does locally); its status, or None."""
        from ..runs import RunStatus

        with self.lock:
            run, runlog = self.runs.get(run_id), self.logs.get(run_id)
        if run is None or runlog is None or run.terminal:
            return None
        c = run.control
        if action == "set":
            c.set(lr=lr, l2=l2)
        elif action == "pace":
            c.set_pace(pace)
        elif action == "stop":
            c.stop()
        elif action == "pause":
            c.pause()
            if run.status == RunStatus.RUNNING:
                self._status(run, runlog, RunStatus.PAUSED)
        elif action == "resume":
            c.resume()
            if run.status == RunStatus.PAUSED:
                self._status(run, runlog, RunStatus.RUNNING)
        elif action == "step":
            c.step()
        return run.status.value

    @ray.method(concurrency_group="poll")
    def poll(self, run_id: str, cursor: int, timeout: float = 1.0) -> Optional[tuple[list[Any], int]]:
        """The run's items from `cursor` on (waiting up to `timeout` s); None if this trainer never had it."""
        with self.lock:
            runlog = self.logs.get(run_id)
        return None if runlog is None else runlog.since(cursor, timeout)


@ray.remote
class RunPool:
    """The cluster's trainers and the queue of runs waiting for one (see the module's docstring)."""

    def __init__(self, database_url: str, settings: dict[str, Any], cpu_workers: int, gpu_workers: int) -> None:
        from ..store import Store

        self.database_url, self.settings = database_url, settings
        self.store = Store(database_url)
        self.idle: dict[str, deque] = {"cpu": deque(), "cuda": deque()}
        self.queue: dict[str, deque] = {"cpu": deque(), "cuda": deque()}
        self.entries: dict[str, dict[str, Any]] = {}  # queued run id -> its submission
        self.running: dict[str, Any] = {}  # run id -> its worker
        self.lost: dict[str, str] = {}  # run id -> why its worker died
        self.sizes = {"cpu": cpu_workers, "cuda": gpu_workers}
        self._starting: list[asyncio.Future] = []
        self._first = [kind for kind, n in self.sizes.items() for _ in range(n)]

    def _new_worker(self, kind: str) -> None:
        opts: dict[str, Any] = {"num_cpus": 1, "max_concurrency": 66}
        if kind == "cuda":
            opts["num_gpus"] = 1  # Ray places it on a node with a free GPU, and sets CUDA_VISIBLE_DEVICES
        worker = RunWorker.options(**opts).remote(self.database_url, self.settings)
        self._starting.append(asyncio.ensure_future(self._warm(kind, worker)))

    async def _warm(self, kind: str, worker: Any) -> None:
        await worker.ready.remote()
        self.idle[kind].append(worker)
        self._dispatch(kind)

    async def ready(self, timeout: float = 120.0) -> dict[str, int]:
        """Wait until every trainer is warm; the pool's size by device."""
        while self._first:  # started here: the actor's event loop runs only once it takes calls
            self._new_worker(self._first.pop())
        await asyncio.wait_for(asyncio.gather(*self._starting), timeout)
        return dict(self.sizes)

    def devices(self) -> list[str]:
        return ["cpu"] + (["cuda"] if self.sizes["cuda"] else [])

    def submit(self, run_id: str, spec_json: dict[str, Any], meta: dict[str, Any]) -> str:
        """Queue a run for a trainer of its device ('auto': a GPU where the pool has one)."""
        device = spec_json.get("training", {}).get("device", "auto")
        kind = "cuda" if device == "cuda" or (device == "auto" and self.sizes["cuda"]) else "cpu"
        self.entries[run_id] = {"spec": spec_json, "meta": dict(meta), "kind": kind}
        self.queue[kind].append(run_id)
        self._dispatch(kind)
        return "running" if run_id in self.running else "queued"

    def _dispatch(self, kind: str) -> None:
        while self.idle[kind] and self.queue[kind]:
            run_id = self.queue[kind].popleft()
            entry = self.entries.pop(run_id, None)
            if entry is None:
                continue  # stopped while it waited
            worker = self.idle[kind].popleft()
            self.running[run_id] = worker
            asyncio.ensure_future(self._train(kind, worker, run_id, entry))

    async def _train(self, kind: str, worker: Any, run_id: str, entry: dict[str, Any]) -> None:
        try:
            await worker.train.remote(run_id, entry["spec"], entry["meta"])
            self.idle[kind].append(worker)
        except ray.exceptions.RayActorError as e:
            reason = WORKER_DIED.format(type(e).__name__)
            self.lost[run_id] = reason
            await asyncio.get_event_loop().run_in_executor(None, self._mark_failed, run_id, reason)
            self._new_worker(kind)  # the rest of the cluster carries on
        except Exception:
            log.exception("run %s on a trainer", run_id)
            self.idle[kind].append(worker)
        finally:
            self.running.pop(run_id, None)
            self._dispatch(kind)

    def _mark_failed(self, run_id: str, reason: str) -> None:
        """The row of a run whose trainer died: `failed`, with the history it last flushed and the reason."""
        row = self.store.load_run(run_id)
        if row is not None and row.status in ("queued", "running", "paused"):
            _save(self.store, {"id": run_id, "status": "failed", "error": reason,
                               "advice": "The machine training this run went away. Start it again."})

    async def control(self, run_id: str, action: str, lr: Optional[float] = None,
                      l2: Optional[float] = None, pace: Optional[float] = None) -> Optional[str]:
        """Steer a run wherever it is: forwarded to its trainer, or applied to its place in the queue."""
        worker = self.running.get(run_id)
        if worker is not None:
            return await worker.control.remote(run_id, action, lr, l2, pace)
        entry = self.entries.get(run_id)
        if entry is None:
            return None
        meta = entry["meta"]
        if action == "stop":
            del self.entries[run_id]  # _dispatch skips it; the replica that stopped it writes its row
            return "stopped"
        if action in ("pause", "step"):
            meta["paused"] = True
        elif action == "resume":
            meta["paused"] = False
        elif action == "set":
            meta.update({k: v for k, v in (("lr", lr), ("l2", l2)) if v is not None})
        elif action == "pace":
            meta["pace"] = pace
        return "queued"

    def where(self, run_id: str) -> dict[str, Any]:
        """queued | running (with its worker) | lost (with the reason) | unknown."""
        if run_id in self.running:
            return {"state": "running", "worker": self.running[run_id]}
        if run_id in self.entries:
            return {"state": "queued"}
        if run_id in self.lost:
            return {"state": "lost", "reason": self.lost[run_id]}
        return {"state": "unknown"}

    def known(self, run_ids: list[str]) -> list[str]:
        """Those of `run_ids` that are queued or training here."""
        return [r for r in run_ids if r in self.running or r in self.entries]

    def stats(self) -> dict[str, Any]:
        return {"sizes": dict(self.sizes), "running": len(self.running),
                "queued": {k: len(q) for k, q in self.queue.items()},
                "idle": {k: len(v) for k, v in self.idle.items()}}

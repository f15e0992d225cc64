"""The Ray executor (LAYERLAB_EXECUTOR=ray): runs train on warm actors of a Ray cluster, and any
web replica serves any run. docs/deploy.md says why the event path is Ray actor calls.

This replica's side of a run is a mirror: a task that long-polls the run's trainer for its log
(server/executors/ray_actors.py) and feeds each item to the RunManager as a local thread would,
so that coalescing, replay and the websocket protocol stay what they are. A run started on
another replica is mirrored the first time it is asked for (RunManager.get). Controls go to the
trainer through RemoteControl. Rows of runs handed to the cluster are written by their trainer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Optional

import ray
from ray.exceptions import RayActorError, RayError

from ..runs import Run, RunStatus
from .ray_actors import NAMESPACE, RunPool, pool_name

if TYPE_CHECKING:
    from ..manager import EventPipe, RunManager
    from ..settings import Settings
    from ..store import Store

log = logging.getLogger("layerlab.ray")
POLL_TIMEOUT_S = 1.0  # a long-poll returns at once when there is news, else after this


class RemoteControl:
    """engine.control.Control's steering side, forwarded to the run's trainer (through the pool, which
    knows whether it is queued or where it trains). Ordered: the pool forwards in arrival order, and a
    trainer applies controls one at a time."""

    def __init__(self, pool: Any, run_id: str) -> None:
        self._pool, self._id = pool, run_id

    @property
    def paused(self) -> bool:
        return False  # status changes made on the trainer arrive as ("status", ...) items

    def _send(self, action: str, lr: Optional[float] = None, l2: Optional[float] = None,
              pace: Optional[float] = None) -> None:
        self._pool.control.remote(self._id, action, lr, l2, pace)

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def step(self) -> None:
        self._send("step")

    def stop(self) -> None:
        self._send("stop")

    def set(self, lr: Optional[float] = None, l2: Optional[float] = None) -> None:
        self._send("set", lr, l2)

    def set_pace(self, epochs_per_s: Optional[float]) -> None:
        self._send("pace", pace=epochs_per_s)


class Mirror:
    """The task that feeds one run's trainer log to this replica (what the manager keeps as its worker)."""

    def __init__(self, task: "asyncio.Task[None]") -> None:
        self.task = task

    def is_alive(self) -> bool:
        return not self.task.done()


class RayExecutor:
    """Runs on the Ray cluster's warm pool (see the module's docstring)."""

    remote = True

    def __init__(self, settings: "Settings", store: "Store") -> None:
        self.settings = settings
        self.store = store
        self.pool: Any = None
        self._devices = ["cpu"]
        self._handed: set[str] = set()  # runs given to the cluster: their trainer writes their rows
        self._mirrors: dict[str, Mirror] = {}

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self, manager: "RunManager") -> int:
        """Connect to the cluster, find or create its pool, wait for it to be warm; then mark the live runs
        that nobody trains (left by a cluster that has since restarted) `interrupted`."""
        address = self.settings.ray_address or "auto"
        await manager.db(lambda: ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                                          ignore_reinit_error=True, configure_logging=False))
        self.pool = await manager.db(self._find_or_create_pool)
        sizes = await self.pool.ready.remote()
        self._devices = ["cpu"] + (["cuda"] if sizes.get("cuda") else [])
        live = await manager.db(self.store.live_run_ids)
        known = set(await self.pool.known.remote(live)) if live else set()
        orphans = [r for r in live if r not in known]
        return await manager.db(self.store.mark_interrupted, orphans) if orphans else 0

    def _find_or_create_pool(self) -> Any:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        gpus = int(ray.cluster_resources().get("GPU", 0))
        # One trainer per CPU (or as set); GPU trainers take a CPU each as well.
        n_cpu = self.settings.ray_workers or max(1, cpus - gpus)
        return RunPool.options(name=pool_name(self.settings.database_url), namespace=NAMESPACE,
                               lifetime="detached", get_if_exists=True, num_cpus=0, max_restarts=0).remote(
            self.settings.database_url, self.settings.model_dump(), n_cpu, gpus)

    async def shutdown(self, manager: "RunManager") -> None:
        """Stop watching; the runs go on on the cluster, and another replica streams them."""
        for mirror in self._mirrors.values():
            mirror.task.cancel()
        for run in list(manager.runs.values()):
            if run.id in self._handed and not run.terminal:
                for sub in list(run.subscribers):
                    sub.close()
                del manager.runs[run.id]  # nor does the manager mark it interrupted
        self._mirrors.clear()

    # -- what the manager asks ----------------------------------------------------------------------
    def devices(self) -> list[str]:
        return list(self._devices)

    def capacity(self) -> int:
        return self.settings.max_concurrent_runs

    def writes_row(self, run: Run) -> bool:
        return run.id not in self._handed

    def launch(self, run: Run, pipe: "EventPipe", provider: Any) -> Mirror:
        """Hand a queued run to the pool; it stays `queued` here until its trainer says `running`."""
        paused, pace = run.control.paused, run.control.pace
        run.control = RemoteControl(self.pool, run.id)  # type: ignore[assignment]
        self._handed.add(run.id)
        meta = {"summary": run.summary, "label": run.label, "name": run.name, "number": run.number, "parent": run.parent,
                "session_id": run.session_id, "created_at": run.created_at, "paused": paused, "pace": pace}
        submitted = self.pool.submit.remote(run.id, run.spec.to_json(), meta)
        mirror = Mirror(asyncio.get_running_loop().create_task(self._follow(run, pipe.apply_now, submitted)))
        self._mirrors[run.id] = mirror
        return mirror

    async def attach(self, manager: "RunManager", row: Any) -> Optional[Run]:
        """A run going on the cluster that this replica does not have: mirror it from its log's start."""
        from ..manager import run_from_row

        if row.id in manager.runs:
            return manager.runs[row.id]
        where = await self.pool.where.remote(row.id)
        if where["state"] in ("unknown", "lost"):
            return None  # its row says how it stands
        old = run_from_row(row)
        run = Run(old.spec, old.summary, run_id=old.id, label=old.label, name=old.name, number=old.number,
                  parent=old.parent,
                  session_id=old.session_id, created_at=old.created_at)  # queued, empty: the log replays the rest
        run.control = RemoteControl(self.pool, run.id)  # type: ignore[assignment]
        run.dirty = False
        self._handed.add(run.id)
        manager.runs[run.id] = run
        first = asyncio.get_running_loop().create_future()

        def apply(item: Any) -> None:
            if not (isinstance(item, tuple) and item[0] == "done"):  # this replica never counted it as active
                manager._apply(run, item)

        self._mirrors[run.id] = Mirror(asyncio.get_running_loop().create_task(self._follow(run, apply, None, first)))
        try:
            await asyncio.wait_for(asyncio.shield(first), 5.0)  # answer with the run as it stands now
        except asyncio.TimeoutError:
            pass
        return run

    # -- the mirror -------------------------------------------------------------------------------
    async def _follow(self, run: Run, apply: Any, submitted: Any, first: Optional[asyncio.Future] = None) -> None:
        """Feed the run's trainer log to `apply` until its last item."""
        try:
            if submitted is not None:
                await submitted
            cursor, worker = 0, None
            while True:
                if worker is None:
                    where = await self.pool.where.remote(run.id)
                    if where["state"] == "running":
                        worker = where["worker"]
                    elif where["state"] == "queued":
                        _settle(first)
                        await asyncio.sleep(0.05)
                        continue
                    else:
                        await self._gone(run, apply, where)
                        return
                try:
                    got = await worker.poll.remote(run.id, cursor, POLL_TIMEOUT_S)
                except RayActorError:
                    worker = None  # the pool says why (lost) on the next turn
                    await asyncio.sleep(0.05)
                    continue
                if got is None:  # not on that trainer yet (just assigned) or any more
                    worker = None
                    await asyncio.sleep(0.02)
                    continue
                items, cursor = got
                for item in items:
                    apply(item)
                _settle(first)
                if any(isinstance(i, tuple) and i[0] == "done" for i in items):
                    return
        except asyncio.CancelledError:
            raise
        except RayError as e:
            log.warning("following run %s failed: %s", run.id, e)
            apply(("failed", f"lost touch with the Ray cluster ({type(e).__name__})"))
            apply(("done", None))
        finally:
            _settle(first)
            self._mirrors.pop(run.id, None)

    async def _gone(self, run: Run, apply: Any, where: dict[str, Any]) -> None:
        """The pool no longer has the run: its worker died (the pool wrote `failed`), or it ended and the
        trainer forgot its log; either way the row says how it ended."""
        if where["state"] == "lost":
            apply(("failed", where["reason"]))
        elif not run.terminal:
            row = await asyncio.get_running_loop().run_in_executor(None, self.store.load_run, run.id)
            status = RunStatus(row.status) if row is not None else RunStatus.FAILED
            if status.value in ("queued", "running", "paused"):
                apply(("failed", "the run's trainer is gone"))
            else:
                run.history = row.history
                run.error, run.advice = row.error, row.advice
                if not run.terminal:
                    if run.status == RunStatus.QUEUED and status != RunStatus.STOPPED:
                        run.transition(RunStatus.RUNNING)
                    result = row.result or {"val_loss": (row.history.get("val_loss") or [None])[-1]}
                    run.finish(status, {**result, "verdict": (row.diagnosis or {}).get("verdict")})
        apply(("done", None))


def _settle(fut: Optional[asyncio.Future]) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)

"""The local executor: each run trains on a thread of this process (the default).

A thread starts at once where a spawned process needs ~3 s to import torch, and torch releases
the GIL while it computes. A crash of this process ends its runs; they are marked `interrupted`
when it starts again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Optional

import torch
from safetensors.torch import save as save_safetensors

from engine.device import available_devices
from engine.errors import SpecError
from engine.events import EndEvent
from engine.spec import ExperimentSpec, Limits
from engine.trainer import Trainer

from ..runs import RunStatus

if TYPE_CHECKING:
    from ..manager import EventPipe, RunManager
    from ..runs import Run
    from ..settings import Settings
    from ..store import Store

log = logging.getLogger("layerlab.runs")


def safetensors_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """A state dict as safetensors bytes (never pickle)."""
    return save_safetensors({k: v.detach().cpu().contiguous() for k, v in state.items()})


def train(spec: ExperimentSpec, limits: Limits, control: Any, put: Callable[[Any], None],
          provider: Optional[Callable[[ExperimentSpec], Any]], run_id: str) -> None:
    """Train one run to its end: every event, then the weights, then the end, then ("done", None).

    Shared by every executor, so that a run trains the same wherever it runs."""
    end: list[EndEvent] = []
    try:
        split = provider(spec) if provider else None
        trainer = Trainer(spec, limits, split=split)

        def emit(event: Any) -> None:
            if isinstance(event, EndEvent):
                end.append(event)  # sent after the weights, so that the final save has them
            else:
                put(event)

        trainer.run(control, emit)
        weights = {"final": safetensors_bytes(trainer.stepper.state_dict())}  # keys "<child>..." per stack
        best = trainer.best_state()
        if best is not None:
            weights["best"] = safetensors_bytes(best)
        put(("weights", weights))
        put(end[0])
    except SpecError as e:
        put(("failed", str(e)))
    except BaseException as e:  # noqa: BLE001 - any failure of a run is reported, never raised
        log.exception("run %s failed", run_id)
        put(("failed", f"{type(e).__name__}: {e}"))
    finally:
        put(("done", None))


class Slots:
    """How many runs may train an epoch at once (LAYERLAB_TRAINING_SLOTS), whatever the number of
    workers: with 8 runs training on 2 cores, the event loop waited behind them and health p99 went
    from 21 ms to 217 ms (issue 14). A worker takes a slot for each epoch and gives it back between
    epochs, so the runs of a crowd take turns, epoch by epoch, and a core stays free for the loop.
    A paused run holds no slot."""

    def __init__(self, n: int) -> None:
        self.free = max(1, n)
        self._cond = threading.Condition()
        # First come, first served: with a plain semaphore the worker that just gave its slot back
        # took it again at once, and a second run starved (it never reached its 20th epoch).
        self._queue: deque[object] = deque()

    def acquire(self, stopping: Callable[[], bool]) -> bool:
        """Wait for a slot, in turn; False if `stopping()` becomes true first."""
        me = object()
        with self._cond:
            self._queue.append(me)
            while not (self.free > 0 and self._queue[0] is me):
                if stopping():
                    self._queue.remove(me)
                    self._cond.notify_all()
                    return False
                self._cond.wait(0.05)
            self._queue.popleft()
            self.free -= 1
            self._cond.notify_all()
            return True

    def release(self) -> None:
        with self._cond:
            self.free += 1
            self._cond.notify_all()

    def gate(self, control: Any) -> "SlotGate":
        return SlotGate(self, control)


class SlotGate:
    """The control a worker's trainer sees: the run's own, with a slot taken for each epoch."""

    def __init__(self, slots: Slots, control: Any) -> None:
        self._slots, self._control, self._held = slots, control, False

    def wait_turn(self, on_pick: Optional[Callable[[int], None]] = None) -> bool:
        """Give the slot back, wait while paused (answering picks), then wait for a slot; False once
        stop was asked for."""
        self.release()
        if not self._control.wait_turn(on_pick):
            return False
        if not self._slots.acquire(lambda: self._control.stopping):
            return False
        self._held = True
        return True

    def take_changes(self) -> tuple[Optional[float], Optional[float]]:
        return self._control.take_changes()

    def take_pick(self) -> Optional[int]:
        return self._control.take_pick()

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()


class LocalExecutor:
    """Runs on threads of this process, at most `training_slots` of them in an epoch at once."""

    remote = False

    def __init__(self, settings: "Settings", store: "Store") -> None:
        self.settings = settings
        self.store = store
        self.limits = settings.limits()
        self.slots = Slots(settings.training_slots or max(1, (os.cpu_count() or 1) - 1))

    async def start(self, manager: "RunManager") -> int:
        """Every run left live in the database was this process's before it stopped."""
        return await manager.db(self.store.mark_interrupted)

    async def shutdown(self, manager: "RunManager") -> None:
        return None

    def devices(self) -> list[str]:
        return available_devices()

    def capacity(self) -> int:
        return self.settings.max_concurrent_runs

    def launch(self, run: "Run", pipe: "EventPipe",
               provider: Optional[Callable[[ExperimentSpec], Any]]) -> threading.Thread:
        run.transition(RunStatus.RUNNING)
        if run.control.paused:  # paused while queued: the machine goes queued -> running -> paused
            run.transition(RunStatus.PAUSED)
        thread = threading.Thread(target=self._work, args=(run, pipe, provider),
                                  daemon=True, name=f"run-{run.id[:8]}")
        thread.start()
        return thread

    def _work(self, run: "Run", pipe: "EventPipe", provider: Optional[Callable[[ExperimentSpec], Any]]) -> None:
        gate = self.slots.gate(run.control)
        try:
            train(run.spec, self.limits, gate, pipe.put, provider, run.id)
        finally:
            gate.release()

    async def attach(self, manager: "RunManager", row: Any) -> None:
        return None  # a live row here is this process's own run, already in memory

    def writes_row(self, run: "Run") -> bool:
        return True

"""The local executor: each run trains on a thread of this process (the default).

A thread starts at once where a spawned process needs ~3 s to import torch, and torch releases
the GIL while it computes. A crash of this process ends its runs; they are marked `interrupted`
when it starts again.
"""

from __future__ import annotations

import logging
import threading
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
        weights = {"final": safetensors_bytes(trainer.model.state_dict())}
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


class LocalExecutor:
    """Runs on threads of this process."""

    remote = False

    def __init__(self, settings: "Settings", store: "Store") -> None:
        self.settings = settings
        self.store = store
        self.limits = settings.limits()

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
        thread = threading.Thread(target=train, args=(run.spec, self.limits, run.control, pipe.put,
                                                      provider, run.id),
                                  daemon=True, name=f"run-{run.id[:8]}")
        thread.start()
        return thread

    async def attach(self, manager: "RunManager", row: Any) -> None:
        return None  # a live row here is this process's own run, already in memory

    def writes_row(self, run: "Run") -> bool:
        return True

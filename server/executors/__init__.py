"""Where runs train. The RunManager hands an executor a queued run and the run's EventPipe; the
executor trains it somewhere and feeds the pipe the engine's events (EpochEvent, DiagnosisEvent,
SnapshotEvent, EndEvent) and the manager's own items (("weights", ...), ("failed", reason),
("status", value), ("done", None)). Control (pause/step/resume/stop/lr/l2) reaches the trainer
through `run.control`, which an executor may replace with one that forwards to a remote trainer.

Executors register themselves in EXECUTORS by name (LAYERLAB_EXECUTOR); `local` is the default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from engine.errors import ErrorItem, SpecError

if TYPE_CHECKING:
    from ..manager import EventPipe, RunManager
    from ..runs import Run
    from ..settings import Settings
    from ..store import Store


class Worker(Protocol):
    """What the manager keeps of a launched run: whether its worker is still going."""

    def is_alive(self) -> bool: ...


class Executor(Protocol):
    """A place where runs train (see the module's docstring)."""

    # True when runs live outside this process (and so outlive it): the manager then neither stops
    # them on shutdown nor writes their rows, which their trainer does.
    remote: bool

    async def start(self, manager: "RunManager") -> int:
        """Connect; mark runs that a previous server left going and that nobody trains now. Returns how many."""

    async def shutdown(self, manager: "RunManager") -> None:
        """Let go of the runs (a local executor's manager stops them itself)."""

    def devices(self) -> list[str]:
        """Devices a run can ask for, CPU first."""

    def capacity(self) -> int:
        """Runs this server hands to the executor at once; the manager queues the rest."""

    def launch(self, run: "Run", pipe: "EventPipe", provider: Optional[Callable[[Any], Any]]) -> Worker:
        """Start training a queued run; its events go into `pipe`. `provider(spec)` gives uploaded data."""

    async def attach(self, manager: "RunManager", row: Any) -> Optional["Run"]:
        """A live run that another server started, mirrored here (None where runs are not shared)."""

    def writes_row(self, run: "Run") -> bool:
        """Whether this server writes the run's row (else its trainer does)."""


def check_device(name: str, have: list[str]) -> None:
    """'auto' or one of `have`; else a SpecError at training.device that lists them."""
    if name != "auto" and name not in have:
        raise SpecError([ErrorItem("training.device",
                                   f"device {name!r} is not available here; available: {', '.join(have)}")])


def _local(settings: "Settings", store: "Store") -> Executor:
    from .local import LocalExecutor

    return LocalExecutor(settings, store)


def _ray(settings: "Settings", store: "Store") -> Executor:
    from .ray import RayExecutor  # imports ray: only where it is asked for

    return RayExecutor(settings, store)


EXECUTORS: dict[str, Callable[["Settings", "Store"], Executor]] = {"local": _local, "ray": _ray}


def make_executor(settings: "Settings", store: "Store") -> Executor:
    """The executor LAYERLAB_EXECUTOR names."""
    try:
        factory = EXECUTORS[settings.executor]
    except KeyError:
        raise ValueError(f"unknown executor {settings.executor!r}; valid: {', '.join(sorted(EXECUTORS))}") from None
    return factory(settings, store)

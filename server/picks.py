"""A pick on an ended run, answered from its saved weights (engine/picks.py does the work).

A live run answers a pick control itself; once it has ended (or after a restart, when it is read
back from the database) the final weights are loaded into a fresh model on a worker thread, so the
event loop never runs torch.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Optional

from safetensors.torch import load as load_safetensors

from engine.picks import picked_views

from .runs import IllegalTransition, Run

if TYPE_CHECKING:
    from .manager import RunManager

LIVE = "the run is still going: send it a pick control (it answers at its next epoch, or at once while paused)"


def _picked(manager: "RunManager", run: Run, data: bytes, index: int, epoch: int) -> list[dict[str, Any]]:
    split = manager.split_provider(run.spec) if manager.split_provider else None  # an upload's table
    snaps = picked_views(run.spec, load_safetensors(data), index, epoch, split=split, limits=manager.limits)
    return [{"type": "snapshot", **snap, "kind": kind, "epoch": snap["epoch"]} for kind, snap in snaps]


async def pick_ended(manager: "RunManager", run: Run, index: int) -> Optional[list[dict[str, Any]]]:
    """The snapshot messages of the views that follow a pick, of the run's final weights; None when it
    kept no weights. Raises IllegalTransition for a run that is still live."""
    if not run.terminal:
        raise IllegalTransition(LIVE)
    data = run.weights.get("final") if run.weights else None
    if data is None:
        data = await manager.db(manager.store.weights, run.id, "final")
    if data is None:
        return None
    end = run.end or {}
    epoch = end.get("weights_epoch") or end.get("epochs") or len(run.history.get("epoch", []))
    return await asyncio.get_running_loop().run_in_executor(None, _picked, manager, run, data, index, int(epoch))

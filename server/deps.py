"""Named dependencies for the routes."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from fastapi import Body, Depends, HTTPException, Query, Request

from engine.spec import ExperimentSpec, empty_model, parse_spec

from .manager import RunManager
from .protocol import PACE_MAX, PACE_MIN
from .runs import Run
from .schemas import PreviewIn
from .settings import Settings


def get_manager(request: Request) -> RunManager:
    return request.app.state.manager


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


ManagerDep = Annotated[RunManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_run(run_id: str, manager: ManagerDep) -> Run:
    run = await manager.get(run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return run


RunDep = Annotated[Run, Depends(get_run)]


def get_spec(manager: ManagerDep, body: Annotated[dict[str, Any], Body(
        description="an experiment spec (docs/spec.md)",
        openapi_examples={"spiral": {"value": {"data": {"dataset": "spiral"},
                                                "model": {"layers": [{"type": "dense", "units": 16}]}}}})]
             ) -> ExperimentSpec:
    """The request body parsed as a spec under the server's caps (SpecError -> 422 with paths)."""
    return parse_spec(body, manager.limits)


SpecDep = Annotated[ExperimentSpec, Depends(get_spec)]

# A new run's query parameters besides label, name and parent.
PaceQuery = Annotated[Optional[float], Query(
    ge=PACE_MIN, le=PACE_MAX, allow_inf_nan=False,
    description="train at most this many epochs a second from the first epoch (slow motion); omitted: full speed")]
NumberQuery = Annotated[Optional[int], Query(
    ge=1, le=1_000_000, description="its number on the page (Run 3): its colour there, kept through renames")]


def run_created(run: Run) -> dict[str, Any]:
    """The answer to a new run (RunCreated)."""
    return {"id": run.id, "status": run.status.value, "summary": run.summary, "device": run.device}


def preview_spec(body: PreviewIn, manager: RunManager) -> ExperimentSpec:
    """A data preview's task and data as a spec with empty stacks, under the server's caps."""
    raw = {"task": body.task, "data": body.data}
    return parse_spec({**raw, "model": empty_model(raw)}, manager.limits)

"""REST and websocket routes of runs, specs and data. Each handler parses, calls one service,
and returns a schema. docs/protocol.md describes them; /docs is generated from them."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response, WebSocket

from engine import __version__
from engine.catalog import catalog
from engine.datasets import preview
from engine.errors import SpecError
from engine.spec import json_schema, parse_spec

from .deps import ManagerDep, NumberQuery, PaceQuery, RunDep, SpecDep, preview_spec, run_created
from .picks import pick_ended
from .protocol import PICK_CHOICES, ControlFrame
from .schemas import ControlOut, ErrorsOut, Health, PreviewIn, RunCreated, RunOut, RunPatch
from .sessions import STEER_FORBIDDEN, bearer_token, may_steer
from .stream import STREAM_PROTOCOL, protocol_token, stream

router = APIRouter(prefix="/api")
SPEC_ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorsOut, "description": "invalid spec, with JSON paths"}}


@router.get("/health", response_model=Health)
async def health(manager: ManagerDep) -> dict[str, Any]:
    """Liveness, the devices a run can ask for (with executor=ray: what the cluster has), and how many
    runs are going."""
    return {"status": "ok", "devices": manager.executor.devices(), "version": __version__,
            "runs": manager.counts()}


@router.get("/catalog")
async def get_catalog(manager: ManagerDep) -> dict[str, Any]:
    """Layers with parameter schemas and defaults, activations, datasets, optimizers, tasks, presets,
    and this server's caps (its settings, not the engine's defaults)."""
    return {**catalog(), "limits": manager.limits.model_dump()}


@router.get("/schema")
async def get_schema() -> dict[str, Any]:
    """The JSON Schema of the experiment spec."""
    return json_schema()


@router.post("/validate", responses={**SPEC_ERRORS, 200: {"description": "the layer table; with "
            "report=true, also {'errors': [...]} for an invalid spec"}})
async def validate(manager: ManagerDep, body: Annotated[dict[str, Any], Body(description="a spec")],
                   report: Annotated[bool, Query(description="answer 200 with `errors` instead of 422")] = False,
                   ) -> Any:
    """Per-layer output shapes and parameters, with the total; 422 with paths when invalid.

    `?report=true` answers an invalid spec with 200 `{"errors": [...]}`: the page validates on
    every edit, and a browser logs each 4xx as a console error.
    """
    try:
        return manager.validate(parse_spec(body, manager.limits))
    except SpecError as e:
        if report:
            return e.to_dict()
        raise


@router.post("/data/preview", responses=SPEC_ERRORS)
def data_preview(body: PreviewIn, manager: ManagerDep) -> dict[str, Any]:
    """The points (or sample images) of a dataset's train and validation splits."""
    spec = preview_spec(body, manager)
    return preview(spec.data, spec.task or "classification")


@router.post("/runs", status_code=201, response_model=RunCreated, responses=SPEC_ERRORS)
async def create_run(spec: SpecDep, manager: ManagerDep,
                     label: Annotated[Optional[str], Query(max_length=200)] = None,
                     name: Annotated[Optional[str], Query(max_length=200)] = None,
                     parent: Annotated[Optional[str], Query(max_length=64)] = None,
                     pace: PaceQuery = None, number: NumberQuery = None) -> dict[str, Any]:
    """Queue a run of the spec; it starts as soon as a worker is free. `name` is its name on the page."""
    run = await manager.create(spec, label=label, name=name, parent=parent,
                               pace=pace, number=number)
    return run_created(run)


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run: RunDep) -> dict[str, Any]:
    """A run: status, spec, columnar history, diagnosis, best epoch and latest views."""
    return run.public()


@router.patch("/runs/{run_id}", response_model=RunOut, responses={403: {"description": "a session's run, without its edit token"}})
async def rename_run(run: RunDep, manager: ManagerDep, body: RunPatch, request: Request) -> dict[str, Any]:
    """Rename a run. A session's run needs the session's edit token (Authorization: Bearer), else 403."""
    token = bearer_token(request.headers.get("authorization"))
    if not await may_steer(manager, request.app.state.sessions, run, token):
        raise HTTPException(403, STEER_FORBIDDEN)
    name = body.name.strip() or run.name
    run.name = name
    await manager.db(manager.store.rename_run, run.id, name)
    return run.public()


@router.post("/runs/{run_id}/control", response_model=ControlOut, responses={409: {"description": "not allowed now"}})
async def control(run: RunDep, manager: ManagerDep, frame: Annotated[ControlFrame, Body()],
                  request: Request) -> dict[str, Any]:
    """pause, resume, step (one epoch), stop, or set lr/l2 from the next epoch on. A session's run
    needs the session's edit token (Authorization: Bearer), else 403."""
    token = bearer_token(request.headers.get("authorization"))
    if not await may_steer(manager, request.app.state.sessions, run, token):
        raise HTTPException(403, STEER_FORBIDDEN)
    return {"status": manager.control(run, frame).value}


@router.get("/runs/{run_id}/spec.json")
async def run_spec(run: RunDep) -> Response:
    """The spec the run trained with, as a file."""
    import json

    return Response(json.dumps(run.spec.to_json(), indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="layerlab-{run.id[:8]}.json"'})


@router.get("/runs/{run_id}/weights.safetensors")
async def run_weights(run: RunDep, manager: ManagerDep,
                      which: Annotated[str, Query(pattern="^(final|best)$")] = "final") -> Response:
    """The run's final (or best) weights as safetensors; keys are the torch state_dict's."""
    data = run.weights.get(which) if run.weights else None
    if data is None:
        data = await manager.db(manager.store.weights, run.id, which)
    if data is None:
        raise HTTPException(404, "this run has no saved weights (yet)")
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="layerlab-{run.id[:8]}-{which}.safetensors"'})


@router.get("/runs/{run_id}/pick", responses={404: {"description": "no such run, or it kept no weights"},
                                               409: {"description": "the run is still going"}})
async def pick(run: RunDep, manager: ManagerDep,
               index: Annotated[int, Query(ge=0, lt=PICK_CHOICES, description="an index into `choices`")]
               ) -> dict[str, Any]:
    """The views that follow a pick (the feature maps of validation example `index`) of an ended run,
    computed from its saved final weights. A live run answers a pick control instead (409 here)."""
    snapshots = await pick_ended(manager, run, index)
    if snapshots is None:
        raise HTTPException(404, "this run has no saved weights to pick with")
    return {"index": index, "snapshots": snapshots}


@router.websocket("/runs/{run_id}/stream")
async def run_stream(ws: WebSocket, run_id: str) -> None:
    """Replay of the run so far, then live messages (docs/protocol.md)."""
    manager = ws.app.state.manager
    run = await manager.get(run_id)
    if run is None:
        await ws.close(code=4404, reason="no such run")
        return
    # A session's run is steered only by a socket that offers `layerlab.token.<edit_token>` as a
    # Sec-WebSocket-Protocol value (never in the URL, which reaches logs); others just watch.
    offered = list(ws.scope.get("subprotocols") or [])
    steer = await may_steer(manager, ws.app.state.sessions, run, protocol_token(offered))
    await stream(ws, run, manager, steer=steer, subprotocol=STREAM_PROTOCOL if STREAM_PROTOCOL in offered else None)

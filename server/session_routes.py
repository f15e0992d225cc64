"""Routes of sessions, share links, uploads and the export of a run as a script.

A session is edited with `Authorization: Bearer <edit_token>`; a wrong token (a share token
included) gets 403. A share link reads the session and can fork it, nothing else.
docs/protocol.md, "Sessions", describes every route.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.csvdata import CsvError
from engine.datasets import preview
from engine.errors import ErrorItem, SpecError
from engine.export import export_script
from engine.spec import parse_spec

from .db import SessionRow
from .deps import ManagerDep, NumberQuery, PaceQuery, RunDep, SettingsDep, SpecDep, preview_spec, run_created
from .manager import RunManager, run_from_row
from .schemas import PreviewIn, RunCreated
from .session_schemas import (ForkIn, SessionCreate, SessionCreated, SessionKey, SessionList, SessionOut,
                              SessionPatch, SessionSaved, SharedOut, UploadOut)
from .sessions import MAX_LOOKUP, Sessions, plausible_token, timestamp
from .uploads import Uploads, check_table, check_upload_exists, read_capped, upload_view

router = APIRouter(prefix="/api", tags=["sessions"])
_bearer = HTTPBearer(auto_error=False, description="the session's edit token")
FORBIDDEN = ("this token cannot edit the session: a share link is read-only "
             "(fork it to get an editable copy)")
NO_SESSION = "no such session, or this token does not open it"
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no edit token"}, 403: {"description": "the session's share token (read-only)"},
    404: {"description": "no such session, or not its edit token"}}


def get_sessions(request: Request) -> Sessions:
    return request.app.state.sessions


def get_uploads(request: Request) -> Uploads:
    return request.app.state.uploads


SessionsDep = Annotated[Sessions, Depends(get_sessions)]
UploadsDep = Annotated[Uploads, Depends(get_uploads)]


async def editable_session(session_id: str, manager: ManagerDep, sessions: SessionsDep,
                           creds: Annotated[Optional[HTTPAuthorizationCredentials], Depends(_bearer)]) -> SessionRow:
    """The session, if the request carries its edit token. Otherwise 401 without a token (before any
    look-up), 403 for the session's own share token, and 404 for any other token, whether or not
    the session exists: an id alone must not tell anyone that a session is there."""
    if creds is None:
        raise HTTPException(401, "editing a session needs its edit token: Authorization: Bearer <edit_token>",
                            headers={"WWW-Authenticate": "Bearer"})
    row = await manager.db(sessions.get, session_id) if plausible_token(session_id) else None
    if row is not None and sessions.can_edit(row, creds.credentials):
        return row
    if row is not None and hmac.compare_digest(row.share_token.encode(), creds.credentials.encode()):
        raise HTTPException(403, FORBIDDEN)
    raise HTTPException(404, NO_SESSION)


async def shared_session(share_token: str, manager: ManagerDep, sessions: SessionsDep) -> SessionRow:
    row = await manager.db(sessions.by_share, share_token) if plausible_token(share_token) else None
    if row is None:
        raise HTTPException(404, "no such session")
    return row


EditableDep = Annotated[SessionRow, Depends(editable_session)]
SharedDep = Annotated[SessionRow, Depends(shared_session)]


# -- views -------------------------------------------------------------------------------------------
def share_url(request: Request, token: str) -> str:
    base = request.app.state.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/s/{token}"


def created(row: SessionRow, token: str, request: Request) -> dict[str, Any]:
    return {"id": row.id, "edit_token": token, "share_token": row.share_token,
            "share_url": share_url(request, row.share_token)}


async def session_view(row: SessionRow, request: Request, manager: RunManager, uploads: Uploads,
                       *, editable: bool) -> dict[str, Any]:
    """The whole session: spec, runs (live ones from memory) with histories, uploads."""
    rows = await manager.db(manager.store.runs_of_session, row.id)
    runs = [(manager.runs.get(r.id) or run_from_row(r)).public() for r in rows]
    ups = await manager.db(uploads.of_session, row.id)
    out: dict[str, Any] = {
        "read_only": not editable, "title": row.title, "notes": row.notes, "spec": row.spec,
        "share_token": row.share_token, "share_url": share_url(request, row.share_token),
        "created_at": timestamp(row.created_at), "updated_at": timestamp(row.updated_at),
        "runs": runs if editable else [{**r, "session_id": None} for r in runs],
        "uploads": [upload_view(u) for u in ups]}
    if editable:
        out["id"] = row.id
        # A fork links to where it came from (issue 13); only its owner sees the source's share link.
        src = await manager.db(request.app.state.sessions.get, row.forked_from) if row.forked_from else None
        out["forked_from"] = ({"title": src.title, "share_url": share_url(request, src.share_token)}
                              if src is not None else None)
    return out


def _spec_json(raw: Optional[dict[str, Any]], manager: RunManager) -> Optional[dict[str, Any]]:
    """A spec checked like any other (422 with its paths) and stored with its defaults filled in.
    Shape errors do not block a save: the page autosaves a stack while it is being built."""
    return None if raw is None else parse_spec(raw, manager.limits).to_json()


# -- sessions ----------------------------------------------------------------------------------------
@router.post("/sessions", status_code=201, response_model=SessionCreated)
async def create_session(body: SessionCreate, request: Request, manager: ManagerDep,
                         sessions: SessionsDep) -> dict[str, Any]:
    """A new session. Its edit token is returned once: the browser keeps it."""
    spec = _spec_json(body.spec, manager)
    if spec is not None and spec["data"].get("upload") is not None:
        raise SpecError([ErrorItem("data.upload", "a new session has no uploads yet: create the session, "
                                   "upload the file, then save a spec that uses it")])
    runs = [await manager.get(run_id) for run_id in body.runs]
    bad = [ErrorItem(f"runs[{i}]", "no such run" if r is None else "this run already belongs to a session")
           for i, r in enumerate(runs) if r is None or r.session_id is not None]
    if bad:
        raise SpecError(bad)
    row, token = await manager.db(sessions.create, body.title, body.notes, spec)
    for run in runs:  # from now on only the edit token steers them
        run.session_id = row.id
        await manager.save(run)
    return created(row, token, request)


@router.post("/sessions/lookup", response_model=SessionList)
async def lookup_sessions(keys: Annotated[list[SessionKey], Body(max_length=MAX_LOOKUP)], request: Request,
                          manager: ManagerDep, sessions: SessionsDep) -> dict[str, Any]:
    """'My sessions': of the (id, edit_token) pairs the browser kept, those that still open, newest first."""
    found = await manager.db(sessions.lookup, [(k.id, k.edit_token) for k in keys])
    return {"sessions": [{"id": r.id, "title": r.title, "share_token": r.share_token,
                          "share_url": share_url(request, r.share_token),
                          "created_at": timestamp(r.created_at), "updated_at": timestamp(r.updated_at),
                          "n_runs": n} for r, n in found]}


@router.get("/sessions/{session_id}", response_model=SessionOut, responses=AUTH_ERRORS)
async def get_session(session: EditableDep, request: Request, manager: ManagerDep,
                      uploads: UploadsDep) -> dict[str, Any]:
    """The session with its spec, runs (histories, diagnoses, statuses) and uploads."""
    return await session_view(session, request, manager, uploads, editable=True)


@router.patch("/sessions/{session_id}", response_model=SessionSaved, responses=AUTH_ERRORS)
async def patch_session(session: EditableDep, body: SessionPatch, manager: ManagerDep,
                        sessions: SessionsDep, uploads: UploadsDep) -> dict[str, Any]:
    """Autosave: change the title, notes and/or spec (422 with the spec's paths)."""
    changes: dict[str, Any] = {}
    for key in ("title", "notes"):
        if getattr(body, key) is not None:
            changes[key] = getattr(body, key)
    if "spec" in body.model_fields_set:
        changes["spec"] = _spec_json(body.spec, manager)
        await check_upload_exists(manager, uploads, changes["spec"], session.id)
    row = await manager.db(sessions.update, session.id, changes)
    if row is None:
        raise HTTPException(404, "no such session")
    return {"id": row.id, "title": row.title, "notes": row.notes, "spec": row.spec,
            "updated_at": timestamp(row.updated_at)}


@router.delete("/sessions/{session_id}", status_code=204, responses=AUTH_ERRORS)
async def delete_session(session: EditableDep, manager: ManagerDep, sessions: SessionsDep) -> Response:
    """Delete the session, its runs (live ones are stopped) and its uploads."""
    manager.discard(session.id)
    await manager.db(sessions.delete, session.id)
    return Response(status_code=204)


@router.post("/sessions/{session_id}/runs", status_code=201, response_model=RunCreated, responses=AUTH_ERRORS)
async def create_session_run(session: EditableDep, spec: SpecDep, manager: ManagerDep, sessions: SessionsDep,
                             label: Annotated[Optional[str], Query(max_length=200)] = None,
                             name: Annotated[Optional[str], Query(max_length=200)] = None,
                             parent: Annotated[Optional[str], Query(max_length=64)] = None,
                             pace: PaceQuery = None, number: NumberQuery = None) -> dict[str, Any]:
    """Queue a run of the spec in the session (as POST /api/runs does, and saved with it)."""
    run = await manager.create(spec, label=label, name=name, parent=parent, session_id=session.id,
                               pace=pace, number=number)
    await manager.db(sessions.touch, session.id)
    return run_created(run)


# -- uploads -----------------------------------------------------------------------------------------
@router.post("/sessions/{session_id}/uploads", status_code=201, response_model=UploadOut,
             responses={**AUTH_ERRORS, 413: {"description": "over max_upload_bytes"},
                        503: {"description": "max_concurrent_uploads are being read (Retry-After)"},
                        422: {"description": "a bad file or column choice: errors name the row and column"}})
async def upload_csv(session: EditableDep, request: Request, manager: ManagerDep, settings: SettingsDep,
                     sessions: SessionsDep, uploads: UploadsDep, filename: Annotated[str, Query(max_length=200)] = "data.csv",
                     target: Annotated[Optional[str], Query(max_length=100)] = None,
                     features: Annotated[Optional[list[str]], Query(max_length=256)] = None,
                     task: Annotated[Optional[str], Query(max_length=32)] = None,
                     report: Annotated[bool, Query(description="answer a bad file with 200 {errors}")] = False,
                     ) -> Any:
    """Upload a CSV (the raw file as the body). Unchosen columns default to: the last column as the
    target, every other numeric column as a feature, and the task from the target's values.

    `?report=true` answers a bad file or choice (or one over the cap) with 200 `{"errors": [...]}`
    instead of 422 (413), as /api/validate does: the page checks a file as it is chosen, and a
    browser logs each 4xx as an error.
    """
    if uploads.slots.locked():  # each parse holds up to ~2.5x the file: a few at a time, the rest later
        raise HTTPException(503, f"{settings.max_concurrent_uploads} uploads are being read; try again shortly",
                            headers={"Retry-After": "2"})
    try:
        async with uploads.slots:
            raw = await read_capped(request, settings.max_upload_bytes)
            size = len(raw)
            table, info = await asyncio.to_thread(uploads.parse, raw, features, target, task)
            del raw  # the table holds its text: the body need not stay beside the stored copy
    except CsvError as e:
        if report:
            return JSONResponse({"errors": [e.to_dict()]})
        raise
    except HTTPException as e:
        if report and e.status_code == 413:
            return JSONResponse({"errors": [{"path": "file", "message": e.detail, "row": None, "column": None}]})
        raise
    row = await manager.db(uploads.insert, session.id, filename, size, table, info)
    await manager.db(sessions.touch, session.id)
    return upload_view(row)


@router.get("/sessions/{session_id}/uploads/{upload_id}", response_model=UploadOut, responses=AUTH_ERRORS)
async def get_upload(session: EditableDep, upload_id: str, manager: ManagerDep, uploads: UploadsDep) -> dict[str, Any]:
    """An upload's columns and chosen features, target and task."""
    return await _upload(session, upload_id, manager, uploads)


@router.delete("/sessions/{session_id}/uploads/{upload_id}", status_code=204, responses=AUTH_ERRORS)
async def delete_upload(session: EditableDep, upload_id: str, manager: ManagerDep, uploads: UploadsDep) -> Response:
    """Delete an upload (runs already trained on it keep their histories and weights)."""
    if not await manager.db(uploads.delete, session.id, upload_id):
        raise HTTPException(404, "no such upload in this session")
    return Response(status_code=204)


@router.post("/sessions/{session_id}/data/preview", responses=AUTH_ERRORS)
async def session_preview(session: EditableDep, body: PreviewIn, manager: ManagerDep,
                          uploads: UploadsDep) -> dict[str, Any]:
    """As POST /api/data/preview, for any dataset, uploads of this session included."""
    return await _preview(session, body, manager, uploads)


async def _upload(session: SessionRow, upload_id: str, manager: RunManager, uploads: Uploads) -> dict[str, Any]:
    row = await manager.db(uploads.get, session.id, upload_id)
    if row is None:
        raise HTTPException(404, "no such upload in this session")
    return upload_view(row)


async def _preview(session: SessionRow, body: PreviewIn, manager: RunManager, uploads: Uploads) -> dict[str, Any]:
    spec = preview_spec(body, manager)
    split = None
    if spec.data.upload is not None:
        split = await manager.db(uploads.split, spec, session.id)
    return await asyncio.to_thread(preview, spec.data, spec.task or "classification", split=split)


# -- share links -------------------------------------------------------------------------------------
@router.get("/shared/{share_token}", response_model=SharedOut, responses={404: {"description": "no such session"}})
async def get_shared(session: SharedDep, request: Request, manager: ManagerDep, uploads: UploadsDep) -> dict[str, Any]:
    """The read-only session behind a share link: spec, runs with histories, uploads. No edit token, no id."""
    return await session_view(session, request, manager, uploads, editable=False)


@router.get("/shared/{share_token}/uploads/{upload_id}", response_model=UploadOut)
async def get_shared_upload(session: SharedDep, upload_id: str, manager: ManagerDep,
                            uploads: UploadsDep) -> dict[str, Any]:
    """An upload of a shared session, read-only."""
    return await _upload(session, upload_id, manager, uploads)


@router.post("/shared/{share_token}/data/preview")
async def shared_preview(session: SharedDep, body: PreviewIn, manager: ManagerDep, uploads: UploadsDep) -> dict[str, Any]:
    """The data preview of a shared session (its uploads included)."""
    return await _preview(session, body, manager, uploads)


@router.post("/shared/{share_token}/fork", status_code=201, response_model=SessionCreated)
async def fork_shared(session: SharedDep, request: Request, manager: ManagerDep, sessions: SessionsDep,
                      body: Annotated[Optional[ForkIn], Body()] = None) -> dict[str, Any]:
    """An editable copy for whoever forks: spec, notes, uploads and runs with histories and weights."""
    await manager.save_session(session.id)  # live runs are copied as far as they have got
    row, token = await manager.db(sessions.fork, session.id, body.title if body is not None else None)
    return created(row, token, request)


# -- a run as a script ---------------------------------------------------------------------------------
@router.get("/runs/{run_id}/export.py", tags=["runs"], response_class=Response,
            responses={200: {"content": {"text/x-python": {}}}})
async def export_run(run: RunDep, manager: ManagerDep, uploads: UploadsDep) -> Response:
    """A standalone PyTorch script (torch, numpy; scikit-learn for moons and digits) that rebuilds the
    data and the model and trains as the run did, printing the same losses."""
    supplied = None
    if run.spec.data.upload is not None:
        table = await manager.db(uploads.table, run.spec.data.upload)
        if table is None:
            raise HTTPException(404, "the uploaded data of this run has been deleted")
        supplied = await asyncio.to_thread(check_table, table, run.spec)
    text = await asyncio.to_thread(export_script, run.spec, run_id=run.id, label=run.label, supplied=supplied)
    return Response(text, media_type="text/x-python; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="layerlab-{run.id[:8]}.py"'})

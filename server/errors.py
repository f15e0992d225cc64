"""Engine errors become HTTP answers here, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from engine.csvdata import CsvError
from engine.errors import SpecError
from engine.spec import json_path

from .manager import RETRY_AFTER_S, TooBusy
from .runs import IllegalTransition


def install(app: FastAPI) -> None:
    """Register the exception handlers on `app`."""

    @app.exception_handler(SpecError)
    async def spec_error(_: Request, exc: SpecError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=422)

    @app.exception_handler(CsvError)
    async def csv_error(_: Request, exc: CsvError) -> JSONResponse:
        return JSONResponse({"errors": [exc.to_dict()]}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def request_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI puts 'body' first in the location; the rest is the JSON path in the body.
        items = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            if err.get("type") == "json_invalid":  # loc is ('body', character offset): no path in the spec
                reason = (err.get("ctx") or {}).get("error", "")
                at = f" at character {loc[1]}" if len(loc) > 1 else ""
                items.append({"path": "$", "message": "not valid JSON" + (f": {reason}" if reason else "") + at})
                continue
            if loc and loc[0] in ("body", "query", "path"):
                loc = loc[1:]
            items.append({"path": json_path(loc), "message": str(err.get("msg", "invalid"))})
        return JSONResponse({"errors": items}, status_code=422)

    @app.exception_handler(IllegalTransition)
    async def illegal(_: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(TooBusy)
    async def busy(_: Request, exc: TooBusy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429)

    @app.exception_handler(OperationalError)
    async def database_busy(_: Request, exc: OperationalError) -> JSONResponse:
        # A locked (or full) database is the server's trouble, not the request's: say when to try
        # again. Results already made are kept in memory and written when the database is back.
        return JSONResponse({"detail": "the database is busy; try again shortly"}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_S)})

"""The page shell and its static files. Third-party JS is served from node_modules, where
`make setup` installs it from package.json and its lockfile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from engine import __version__

from .sessions import plausible_token

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Jinja2Templates(directory=str(ROOT / "templates"))  # autoescapes user text
VENDOR = {"uplot": ROOT / "node_modules" / "uplot", "sortablejs": ROOT / "node_modules" / "sortablejs"}

# The page's import map, inlined as it must be, and allowed by the CSP through its hash (server/guard.py).
IMPORT_MAP = json.dumps({"imports": {"uplot": "/vendor/uplot/dist/uPlot.esm.js",
                                     "sortablejs": "/vendor/sortablejs/modular/sortable.esm.js"}})

router = APIRouter(include_in_schema=False)


def page(request: Request, **context: Any) -> HTMLResponse:
    """The page shell; `context` may open it read-only on a share link, or on a lesson."""
    base = {"version": __version__, "read_only": False, "share_token": None, "lesson": None,
            "import_map": IMPORT_MAP}
    return TEMPLATES.TemplateResponse(request, "index.html", {**base, **context})


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return page(request)


@router.get("/s/{share_token}", response_class=HTMLResponse)
async def shared(request: Request, share_token: str) -> HTMLResponse:
    if not plausible_token(share_token):
        raise HTTPException(404, "no such session")
    return page(request, read_only=True, share_token=share_token)


@router.get("/vendor/{package}/{path:path}")
async def vendor(package: str, path: str) -> FileResponse:
    root = VENDOR.get(package)
    if root is None:
        raise HTTPException(404, "unknown package")
    target = (root / path).resolve()
    if root.resolve() not in target.parents or not target.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(target)

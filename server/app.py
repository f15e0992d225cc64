"""The app factory. Nothing is created at import time: create_app(settings) builds a fresh app."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from functools import partial
from typing import AsyncIterator

import torch
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from engine import __version__
from engine.spec import parse_spec
from engine.trainer import Trainer

from . import errors, lesson_routes, logs, pages, routes, session_routes
from .bodylimit import JsonBodyLimit
from .guard import Guard, allowed_hosts, csp
from .manager import RunManager
from .sessions import Sessions
from .settings import Settings
from .store import Store
from .uploads import Uploads, check_spec_data


def warm_up() -> None:
    """Train a tiny model for one epoch, so that the first user's run does not pay for torch's lazy
    imports: the first optimizer imports torch._dynamo, ~1.3 s, which made a fresh server's first
    POST /api/runs -> first metrics take ~1.4 s instead of ~0.07 s."""
    spec = parse_spec({"data": {"dataset": "circle", "n_samples": 20},
                       "model": {"layers": [{"type": "dense", "units": 2}]},
                       "training": {"epochs": 1, "batch_size": 10, "device": "cpu"}})
    Trainer(spec).run()
    # scikit-learn's datasets are imported on first use: ~1 s idle, 6 s on a loaded machine, which a
    # fresh server's first digits or moons preview paid while the page waited for its views.
    import sklearn.datasets  # noqa: F401


# FastAPI's /docs and /redoc load their scripts from a CDN and start them inline; off by default
# (LAYERLAB_API_DOCS), and when an operator turns them on, only those two pages get this policy.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com "
            "https://cdn.redoc.ly; worker-src blob:; frame-ancestors 'none'")


def create_app(settings: Settings | None = None) -> FastAPI:
    """A FastAPI app with its own store and run manager, started and stopped by the lifespan."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        torch.set_num_threads(1)  # one torch thread per run: a second cost up to 37% here
        # On a thread while the executor starts: with executor=ray, start waits seconds for the pool's
        # trainers to warm up (each imports torch), and this replica's own warm-up need not come first.
        warming = asyncio.get_running_loop().run_in_executor(None, warm_up)
        store = Store(settings.database_url)
        manager = RunManager(settings, store)
        uploads = Uploads(store, settings.max_samples, settings.max_concurrent_uploads)
        manager.split_provider = uploads.split
        manager.data_check = partial(check_spec_data, manager, uploads)
        app.state.manager = manager
        app.state.sessions = Sessions(store)
        app.state.uploads = uploads
        logs.install()  # again: uvicorn has made its handlers by now
        try:
            await manager.start()
        finally:
            await warming
        try:
            yield
        finally:
            await manager.shutdown()
            store.close()

    docs = {} if settings.api_docs else {"docs_url": None, "redoc_url": None}
    app = FastAPI(title="Layerlab", version=__version__, lifespan=lifespan, **docs,
                  description="Build, train and diagnose PyTorch models from the browser. See docs/protocol.md.")
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(JsonBodyLimit, limit=settings.max_body_bytes)
    # Outermost: a request for a Host that is not ours is refused before anything reads it.
    app.add_middleware(Guard, hosts=allowed_hosts(settings.allowed_hosts, settings.public_url),
                       page_csp=csp([pages.IMPORT_MAP]), docs_csp=DOCS_CSP)
    app.include_router(routes.router)
    app.include_router(session_routes.router)
    app.include_router(lesson_routes.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(pages.ROOT / "static")), name="static")
    logging.getLogger("layerlab").setLevel(settings.log_level.upper())
    logs.install()
    return app

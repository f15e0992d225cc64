"""The app factory. Nothing is created at import time: create_app(settings) builds a fresh app."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from functools import partial
from typing import AsyncIterator

import torch
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from engine import __version__

from . import errors, logs, pages, routes, session_routes
from .manager import RunManager
from .sessions import Sessions
from .settings import Settings
from .store import Store
from .uploads import Uploads, check_spec_data


def create_app(settings: Settings | None = None) -> FastAPI:
    """A FastAPI app with its own store and run manager, started and stopped by the lifespan."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        torch.set_num_threads(1)  # one torch thread per run: a second cost up to 37% here
        store = Store(settings.database_url)
        manager = RunManager(settings, store)
        uploads = Uploads(store, settings.max_samples)
        manager.split_provider = uploads.split_for
        manager.data_check = partial(check_spec_data, manager, uploads)
        app.state.store = store
        app.state.manager = manager
        app.state.sessions = Sessions(store)
        app.state.uploads = uploads
        await manager.start()
        try:
            yield
        finally:
            await manager.shutdown()
            store.close()

    app = FastAPI(title="Layerlab", version=__version__, lifespan=lifespan,
                  description="Build, train and diagnose PyTorch models from the browser. See docs/protocol.md.")
    app.state.settings = settings
    errors.install(app)
    app.include_router(routes.router)
    app.include_router(session_routes.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(pages.ROOT / "static")), name="static")
    logging.getLogger("layerlab").setLevel(settings.log_level.upper())
    logs.install()
    return app

"""Fixtures for the server tests: real apps on real SQLite files, in-process and on real sockets.

Three ways to reach a server, all real (the classes live in serverkit.py):
  client / make_client   TestClient(create_app(...)) with its lifespan, in this process;
  live / make_live       uvicorn.Server on a free loopback port, in a thread of this process
                         (a test can reach app.state.manager, e.g. to set a public hook);
  serve                  `layerlab serve` as a subprocess, for signals and restarts.
sapi wraps `client` in the sessions API client of sessions_kit.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from serverkit import Api, LiveServer, ServeProcess, api_for, make_settings
from sessions_kit import SessionsApi


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """make_client(**settings) -> a started TestClient on tmp_path's SQLite file (stopped afterwards)."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        c = TestClient(create_app(make_settings(tmp_path, **overrides)))
        c.__enter__()
        clients.append(c)
        return c

    yield build
    for c in reversed(clients):
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def api(client: TestClient) -> Api:
    return api_for(client)


@pytest.fixture
def sapi(client: TestClient) -> SessionsApi:
    return SessionsApi(client)


@pytest.fixture
def make_live(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """make_live(**settings) -> a started LiveServer (stopped afterwards)."""
    servers: list[LiveServer] = []

    def build(**overrides: Any) -> LiveServer:
        s = LiveServer(make_settings(tmp_path, **overrides)).start()
        servers.append(s)
        return s

    yield build
    for s in reversed(servers):
        s.stop()


@pytest.fixture
def live(make_live: Callable[..., LiveServer]) -> LiveServer:
    return make_live()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """serve(**env) -> a running `layerlab serve` on tmp_path/x.db (killed afterwards if still up)."""
    procs: list[ServeProcess] = []

    def start(**env: str) -> ServeProcess:
        p = ServeProcess(tmp_path / "x.db", tmp_path / "serve.log", **env)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()

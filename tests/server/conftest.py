"""Fixtures for the server tests: real apps on real SQLite files, in-process and on real sockets.

Three ways to reach a server, all real (the classes live in serverkit.py):
  client / make_client   TestClient(create_app(...)) with its lifespan, in this process;
  live / make_live       uvicorn.Server on a free loopback port, in a thread of this process
                         (a test can reach app.state.manager, e.g. to set a public hook);
  serve                  `layerlab serve` as a subprocess, for signals and restarts.
sapi wraps `client` in the sessions API client of sessions_kit.py.

Each app's database is `database_url`: a SQLite file in tmp_path, except in a module marked
`databases`, whose tests run twice, on SQLite and on a fresh database of a real PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from clusterkit import Postgres, RayHead, pg_available
from serverkit import Api, LiveServer, ServeProcess, api_for, make_settings
from sessions_kit import SessionsApi


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `databases` runs each test on SQLite and on PostgreSQL (the latter a `cluster` test)."""
    if "db_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("databases"):
        metafunc.parametrize("db_backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.cluster)],
                             indirect=True)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The test's database: tmp_path's SQLite file, or a fresh PostgreSQL database."""
    if db_backend == "postgresql":
        return request.getfixturevalue("postgres").new_database()
    return f"sqlite:///{tmp_path / 'layerlab.db'}"


@pytest.fixture
def make_client(tmp_path: Path, database_url: str) -> Iterator[Callable[..., TestClient]]:
    """make_client(**settings) -> a started TestClient on the test's database (stopped afterwards)."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        c = TestClient(create_app(make_settings(tmp_path, **{"database_url": database_url, **overrides})))
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
def make_live(tmp_path: Path, database_url: str) -> Iterator[Callable[..., LiveServer]]:
    """make_live(**settings) -> a started LiveServer (stopped afterwards)."""
    servers: list[LiveServer] = []

    def build(**overrides: Any) -> LiveServer:
        s = LiveServer(make_settings(tmp_path, **{"database_url": database_url, **overrides})).start()
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


# -- the throwaway cluster parts (tests/server/clusterkit.py): at most one each per test session, started
# only by a test that asks for them (every such test is marked `cluster`, which `make test-fast` skips).
@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of the test session's own (skips where PostgreSQL is not installed)."""
    why = pg_available()
    if why:
        pytest.skip(why)
    pg = Postgres()
    yield pg
    pg.close()


@pytest.fixture(scope="session")
def ray_head() -> Iterator[RayHead]:
    """A local Ray head on loopback with its own temp dir: two CPUs, and one GPU that it declares
    whether the machine has one or not (Ray schedules on it alike; see test_cluster.py's GPU test)."""
    pytest.importorskip("ray")
    head = RayHead(num_cpus=2, num_gpus=1)
    yield head
    head.close()

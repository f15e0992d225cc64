"""Fixtures for the server tests: real apps on real SQLite files, in-process and on real sockets.

Three ways to reach a server, all real:
  client          TestClient(create_app(...)) with its lifespan, in this process;
  live_server     uvicorn.Server on a free loopback port, in a thread of this process
                  (the test can reach app.state.manager, e.g. to set a public hook);
  ServeProcess    `layerlab serve` as a subprocess, for signals and restarts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings
from serverkit import LAYERLAB, ROOT, Api, Stream, free_port, http_api, api_for, wait_for



def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test: a fresh SQLite file in tmp_path, then the overrides."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'layerlab.db'}", **overrides)


# -- in-process servers ------------------------------------------------------------------------------
@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """make_client(**settings) -> a started TestClient on a fresh SQLite file (stopped afterwards)."""
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


class LiveServer:
    """uvicorn serving a fresh app on a free loopback port, in a thread of this process."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.api = http_api(self.base)

    def start(self) -> "LiveServer":
        self.thread.start()
        wait_for(lambda: self.server.started, 10, what="uvicorn to start")
        return self

    @property
    def manager(self) -> Any:
        return self.app.state.manager

    def stream(self, run_id: str) -> Stream:
        return Stream(self.ws_base, run_id)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "uvicorn did not stop"


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


# -- a real `layerlab serve` process -----------------------------------------------------------------
class ServeProcess:
    """`layerlab serve --port P --db FILE` in its own process group, with LAYERLAB_* env settings."""

    def __init__(self, db: Path, log: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.api = http_api(self.base)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
        full_env.update({f"LAYERLAB_{k.upper()}": v for k, v in env.items()})
        self.log = log
        self._log_file = open(log, "ab")
        self.proc = subprocess.Popen([str(LAYERLAB), "serve", "--port", str(self.port), "--db", str(db)],
                                     env=full_env, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     cwd=ROOT, start_new_session=True)
        wait_for(self._healthy, 30, every=0.05, what="layerlab serve to answer /api/health")

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"layerlab serve exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.base + "/api/health", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def stream(self, run_id: str) -> Stream:
        return Stream(self.ws_base, run_id)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._log_file.close()


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

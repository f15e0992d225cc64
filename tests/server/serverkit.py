"""Helpers of the server tests: a spec builder, strict JSON, polling, a REST client, a websocket
client, and the servers (in-process uvicorn, `layerlab serve` subprocess). Fixtures are in conftest.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from engine.spec import merge_patch
from server.app import create_app
from server.cli import uvicorn_options
from server.settings import Settings

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
LAYERLAB = ROOT / ".venv" / "bin" / "layerlab"

# 100 circle points, one small tanh layer, 5 epochs: a whole run takes a few milliseconds.
BASE_SPEC: dict[str, Any] = {
    "data": {"dataset": "circle", "n_samples": 100, "noise": 0.1, "seed": 3},
    "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"}]},
    "training": {"optimizer": "sgd", "lr": 0.1, "batch_size": 10, "epochs": 5, "seed": 11, "device": "cpu"},
}
# The same model for the cap on epochs (about 1-2 ms each): long enough to steer, and always stopped.
LONG = {"training": {"epochs": 5000}}


def spec(patch: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """BASE_SPEC with a JSON merge patch applied."""
    return merge_patch(BASE_SPEC, patch or {})


def strict_json(text: str) -> Any:
    """json.loads that rejects NaN and Infinity, as JavaScript's JSON.parse does."""

    def bad(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=bad)


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, every: float = 0.02, what: str = "condition") -> Any:
    """Poll `cond` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a REST client that works against any base URL (TestClient or a real socket) ---------------------
class Api:
    """The few REST calls the tests make, with the answers parsed strictly."""

    def __init__(self, get: Callable[..., Any], post: Callable[..., Any]) -> None:
        self._get, self._post = get, post

    def get(self, path: str) -> Any:
        code, data = self._get(path)
        assert code == 200, data
        return data

    def create(self, body: dict[str, Any], status: int = 201, **params: Any) -> dict[str, Any]:
        code, data = self._post("/api/runs", body, params)
        assert code == status, data
        return data

    def run(self, run_id: str) -> dict[str, Any]:
        code, data = self._get(f"/api/runs/{run_id}")
        assert code == 200, data
        return data

    def control(self, run_id: str, frame: dict[str, Any], status: int = 200) -> dict[str, Any]:
        code, data = self._post(f"/api/runs/{run_id}/control", frame, {})
        assert code == status, data
        return data

    def wait_status(self, run_id: str, *statuses: str, timeout: float = 15.0) -> dict[str, Any]:
        return wait_for(lambda: (r := self.run(run_id))["status"] in statuses and r, timeout,
                        what=f"run {run_id[:8]} to be {'/'.join(statuses)}")

    def wait_epochs(self, run_id: str, n: int, timeout: float = 15.0) -> dict[str, Any]:
        return wait_for(lambda: len((r := self.run(run_id))["history"]["epoch"]) >= n and r, timeout,
                        what=f"run {run_id[:8]} to reach epoch {n}")

    def wait_settled(self, run_id: str, quiet: float = 0.3, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until a paused run's history stops growing (the epoch in flight has landed)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            r = self.run(run_id)
            n = len(r["history"]["epoch"])
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return r
            time.sleep(0.02)
        pytest.fail(f"run {run_id[:8]} kept training while paused")


def api_for(c: "TestClient") -> Api:
    def get(path: str) -> tuple[int, Any]:
        r = c.get(path)
        return r.status_code, strict_json(r.text)

    def post(path: str, body: Any, params: dict[str, Any]) -> tuple[int, Any]:
        r = c.post(path, json=body, params=params)
        return r.status_code, strict_json(r.text)

    return Api(get, post)


def http_api(base: str) -> Api:
    def call(req: urllib.request.Request) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, strict_json(r.read().decode())
        except urllib.error.HTTPError as e:
            return e.code, strict_json(e.read().decode())

    def get(path: str) -> tuple[int, Any]:
        return call(urllib.request.Request(base + path))

    def post(path: str, body: Any, params: dict[str, Any]) -> tuple[int, Any]:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        return call(urllib.request.Request(base + path + query, data=json.dumps(body).encode(),
                                           headers={"content-type": "application/json"}))

    return Api(get, post)


# -- websocket clients -------------------------------------------------------------------------------
class Stream:
    """A real websocket client of one run's stream, with the history it has pieced together."""

    def __init__(self, ws_base: str, run_id: str) -> None:
        # Entered by hand: websockets 17.1 deprecates connect() outside a `with` block; close() ends it.
        self.ws: ClientConnection = connect(f"{ws_base}/api/runs/{run_id}/stream", open_timeout=10).__enter__()
        self.messages: list[dict[str, Any]] = []

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        msg = strict_json(self.ws.recv(timeout=timeout))
        self.messages.append(msg)
        return msg

    def send(self, frame: Any) -> None:
        self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> dict[str, Any]:
        """Receive until a message matches `pred`; return it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no matching message within {timeout} s; last: {self.messages[-3:]}")
            msg = self.recv(timeout=left)
            if pred(msg):
                return msg

    def until_type(self, kind: str, timeout: float = 15.0) -> dict[str, Any]:
        return self.until(lambda m: m["type"] == kind, timeout)

    def until_end(self, timeout: float = 30.0) -> dict[str, Any]:
        return self.until_type("end", timeout)

    def history(self) -> dict[str, list]:
        return history_of(self.messages)

    def statuses(self) -> list[str]:
        return [m["status"] for m in self.messages if m["type"] == "status"]

    def close(self) -> None:
        self.ws.close()


def history_of(messages: list[dict[str, Any]]) -> dict[str, list]:
    """Every metrics batch appended, column by column (what the page does with uPlot)."""
    out: dict[str, list] = {}
    for m in messages:
        if m["type"] == "metrics":
            for k, v in m.items():
                if k != "type":
                    out.setdefault(k, []).extend(v)
    return out


# -- servers ----------------------------------------------------------------------------------------------
def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test: a fresh SQLite file in tmp_path (unless database_url is given), then the overrides."""
    # TestClient's requests name the host 'testserver'; live servers are reached on 127.0.0.1.
    overrides.setdefault("allowed_hosts", "testserver,127.0.0.1,localhost")
    overrides.setdefault("database_url", f"sqlite:///{tmp_path / 'layerlab.db'}")
    return Settings(**overrides)


class LiveServer:
    """uvicorn serving a fresh app on a free loopback port, in a thread of this process."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                **uvicorn_options(settings))  # as `layerlab serve` runs it
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.api = http_api(self.base)

    def start(self, timeout: float = 10.0) -> "LiveServer":
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), timeout, what="uvicorn to start")
        assert self.server.started, "uvicorn stopped while starting (see the log above)"
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


class ServeProcess:
    """`layerlab serve --port P [--db FILE]` in its own process group, with LAYERLAB_* env settings
    (without `db`, the database is LAYERLAB_DATABASE_URL's)."""

    def __init__(self, db: Optional[Path], log: Path, start_timeout: Optional[float] = 30.0, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.api = http_api(self.base)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
        full_env.update({f"LAYERLAB_{k.upper()}": v for k, v in env.items()})
        self.log = log
        self._log_file = open(log, "ab")
        db_flag = ["--db", str(db)] if db is not None else []
        self.proc = subprocess.Popen([str(LAYERLAB), "serve", "--port", str(self.port), *db_flag],
                                     env=full_env, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     cwd=ROOT, start_new_session=True)
        if start_timeout is not None:  # None: the caller waits (wait_healthy), e.g. for several at once
            self.wait_healthy(start_timeout)

    def wait_healthy(self, timeout: float) -> None:
        try:
            wait_for(self._healthy, timeout, every=0.05, what="layerlab serve to answer /api/health")
        except BaseException:  # not up in time: no fixture holds it yet, so it must not outlive the test
            self.kill()
            raise

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

"""Issue 14's faults on real servers and real SQLite files: a database locked by another process,
a database that is full, a session's tokens against every log line, and a websocket client that
floods and never reads. (kill -9, SIGTERM, a worker that raises and a client that vanishes are in
test_lifecycle.py, test_rest.py and test_websocket.py.)"""

from __future__ import annotations

import base64
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from serverkit import LONG, spec, wait_for

HOLD_LOCK = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
c.execute("ROLLBACK")
"""


class Lock:
    """BEGIN EXCLUSIVE on a SQLite file, held by another process until release()."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(10) == 0


def row(db: Path, run_id: str) -> dict[str, Any] | None:
    """The run as the database file holds it (read with plain sqlite3, not the server's code)."""
    with sqlite3.connect(db) as c:
        c.row_factory = sqlite3.Row
        r = c.execute("SELECT status, history, weights_final IS NOT NULL AS w FROM runs WHERE id = ?",
                      (run_id,)).fetchone()
    return None if r is None else {"status": r["status"], "epochs": len(json.loads(r["history"])["epoch"]),
                                   "weights": bool(r["w"])}


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.mark.slow
def test_a_locked_database_loses_nothing_and_says_503(make_live, tmp_path):
    live = make_live()
    db = tmp_path / "layerlab.db"
    run_id = live.api.create(spec(LONG))["id"]
    live.api.wait_epochs(run_id, 3)
    lock = Lock(db)
    try:
        stopped_at = time.monotonic()
        live.api.control(run_id, {"action": "stop"})
        ended = live.api.wait_status(run_id, "stopped")  # from memory: the run ended as usual
        code, headers, _ = call(live.base, "POST", "/api/runs", spec())  # needs a write: waits, then 503
        assert code == 503 and headers["retry-after"] == "2"
        code, _, weights = call(live.base, "GET", f"/api/runs/{run_id}/weights.safetensors")
        assert code == 200 and weights  # kept in memory while the database is busy
        time.sleep(max(0.0, stopped_at + 7 - time.monotonic()))  # past one 5 s busy timeout at least
        assert row(db, run_id)["status"] != "stopped"  # nothing could be written yet
    finally:
        lock.release()
    saved = wait_for(lambda: (r := row(db, run_id)) and r["status"] == "stopped" and r, 20,
                     what="the run's end to reach the database")
    assert saved == {"status": "stopped", "epochs": len(ended["history"]["epoch"]), "weights": True}
    live.stop()
    again = make_live()  # a restart reads it all back from the file
    back = again.api.run(run_id)
    assert back["status"] == "stopped" and back["history"] == ended["history"] and back["error"] is None
    assert call(again.base, "GET", f"/api/runs/{run_id}/weights.safetensors")[2] == weights


@pytest.mark.slow
def test_a_full_database_keeps_the_result_until_there_is_room(make_live, tmp_path):
    live = make_live()
    db = tmp_path / "layerlab.db"
    engine = live.manager.store.engine
    with sqlite3.connect(db) as c:
        pages = c.execute("PRAGMA page_count").fetchone()[0]

    def full(conn: Any, _record: Any) -> None:  # SQLite's own cap: past it, "database or disk is full"
        conn.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", full)
    engine.dispose()  # new connections get the cap
    try:
        run_id = live.api.create(spec({"training": {"epochs": 300}}))["id"]  # its row fits; its history will not
        done = live.api.wait_status(run_id, "finished", timeout=60)
        time.sleep(1.0)  # let the end-of-run write fail at least once
        assert row(db, run_id)["status"] != "finished"
        assert live.api.run(run_id)["history"] == done["history"]  # still whole, in memory
    finally:
        event.remove(engine, "connect", full)
        engine.dispose()  # room again
    saved = wait_for(lambda: (r := row(db, run_id)) and r["status"] == "finished" and r, 20,
                     what="the run to be written once there is room")
    assert saved == {"status": "finished", "epochs": 300, "weights": True}


@pytest.mark.slow
def test_no_log_line_holds_a_token(serve, tmp_path):
    server = serve(log_level="debug")
    s = json.loads(call(server.base, "POST", "/api/sessions", {"title": "t"})[2])
    edit, share = s["edit_token"], s["share_token"]
    req = urllib.request.Request(server.base + f"/api/sessions/{s['id']}/runs", data=json.dumps(spec(LONG)).encode(),
                                 headers={"content-type": "application/json", "authorization": f"Bearer {edit}"})
    run_id = json.loads(urllib.request.urlopen(req, timeout=10).read())["id"]
    from websockets.sync.client import connect

    with connect(f"{server.ws_base}/api/runs/{run_id}/stream", subprotocols=["layerlab", f"layerlab.token.{edit}"],
                 open_timeout=10) as ws:
        assert ws.subprotocol == "layerlab"
        ws.send(json.dumps({"action": "stop"}))
        while json.loads(ws.recv(timeout=10))["type"] != "end":
            pass
    with connect(f"{server.ws_base}/api/runs/{run_id}/stream?token={edit}", open_timeout=10) as ws:
        ws.recv(timeout=10)  # the old query form: ignored, but its URL must not be logged either
    for path in (f"/s/{share}", f"/api/shared/{share}", f"/api/sessions/{s['id']}"):
        call(server.base, "GET", path)
    call(server.base, "POST", f"/api/shared/{share}/fork", {})
    call(server.base, "GET", f"/api/sessions/{s['id']}?token={edit}")
    server.signal(15)
    server.wait(30)
    log = server.log.read_text()
    assert "stream" in log and "/api/shared/***" in log  # the lines are there, blanked
    for token in (edit, share):
        assert token not in log and base64.urlsafe_b64encode(token.encode()).decode() not in log


def _ws_handshake(port: int, path: str) -> socket.socket:
    """A raw websocket client that we control byte by byte: it can stop reading altogether."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window: the server's sends back up
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _frame(payload: bytes) -> bytes:
    """One masked text frame (clients must mask), payload under 126 bytes."""
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


FLOODERS = 2


@pytest.mark.slow
def test_a_websocket_flood_that_never_reads_is_closed_and_memory_stays_flat(serve):
    server = serve()
    watched = server.api.create(spec({"training": {"epochs": 400}}))["id"]
    before = _rss_mib(server.proc.pid)
    burst = _frame(b"x") * 1000  # not JSON: each frame would queue an error answer
    results: list[tuple[int, float | None]] = []  # (frames sent, seconds until cut off or None)

    def flood() -> None:  # never reads a byte
        sock = _ws_handshake(server.port, f"/api/runs/{watched}/stream")
        sent, start = 0, time.monotonic()
        try:
            while time.monotonic() - start < 30:
                sock.sendall(burst)
                sent += 1000
            results.append((sent, None))
        except OSError:  # the server dropped the connection on us
            results.append((sent, time.monotonic() - start))
        finally:
            sock.close()

    # At once, not one after another: the close handshake waits on a client that never reads, so
    # each cut-off takes seconds, and two at once are the harder case anyway.
    flooders = [threading.Thread(target=flood) for _ in range(FLOODERS)]
    for t in flooders:
        t.start()
    for t in flooders:
        t.join(60)
    frames = sum(n for n, _ in results)
    took = [t for _, t in results if t is not None]
    closed = len(took)
    after = _rss_mib(server.proc.pid)
    assert closed == FLOODERS, f"only {closed} of {FLOODERS} flooders were cut off"
    print(f"flood: {frames:,} frames from {FLOODERS} clients, cut off after {max(took):.1f} s at most, "
          f"RSS {before:.0f} -> {after:.0f} MiB")
    # Dropped LAYERLAB_WS_CLOSE_TIMEOUT_S (2 s) after the refusal, not when the flooder's own sends
    # time out: it was 13-25 s while the server read on and parsed the flood after its close.
    assert max(took) < 10, f"a flooder was cut off only after {max(took):.1f} s"
    assert after - before < 40, f"RSS grew {after - before:.0f} MiB over {frames:,} frames"
    run = server.api.wait_status(watched, "finished", timeout=60)  # the run is unharmed
    assert run["history"]["epoch"] == list(range(1, 401))
    stream = server.stream(watched)  # and a well-behaved viewer still gets all of it
    stream.until_end()
    assert stream.history()["epoch"] == run["history"]["epoch"]
    stream.close()

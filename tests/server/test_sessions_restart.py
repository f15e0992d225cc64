"""A server restart loses no saved session: a real `layerlab serve` process is killed with
SIGKILL and started again on the same SQLite file. Runs that ended come back whole (history,
weights, share link, export); one that was going comes back `interrupted` with its history up
to the last flush."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Optional

import pytest

from engine.spec import parse_spec
from serverkit import LONG, spec, strict_json, wait_for
from sessions_kit import flowers

pytestmark = pytest.mark.slow


class Http:
    """Plain urllib against a real server, bytes in and out."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, token: Optional[str] = None,
             raw: Optional[bytes] = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw
        if body is not None:
            data, headers["content-type"] = json.dumps(body).encode(), "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, method: str, path: str, body: Any = None, token: Optional[str] = None, status: int = 200,
             raw: Optional[bytes] = None) -> Any:
        code, data = self.call(method, path, body, token, raw)
        assert code == status, data[-2000:]
        return strict_json(data.decode()) if data else None


def test_a_restart_keeps_sessions_runs_weights_and_share_links(serve):
    server = serve(flush_seconds="0.2")
    http = Http(server.base)
    s = http.json("POST", "/api/sessions", {"title": "Survives", "notes": "n", "spec": spec()}, status=201)
    tok = s["edit_token"]
    done = http.json("POST", f"/api/sessions/{s['id']}/runs?label=done", spec(), tok, status=201)
    up = http.json("POST", f"/api/sessions/{s['id']}/uploads?filename=f.csv", token=tok, status=201,
                   raw=flowers(n=30).encode())
    on_csv = http.json("POST", f"/api/sessions/{s['id']}/runs", spec({"task": "classification", "data": up["data"]}),
                       tok, status=201)

    def saved(run_id: str) -> Any:
        runs = {r["id"]: r for r in http.json("GET", f"/api/sessions/{s['id']}", token=tok)["runs"]}
        return runs[run_id]["status"] == "finished" and runs[run_id]["has_weights"] and runs[run_id]

    before = {rid: wait_for(lambda rid=rid: saved(rid), 30, what="runs to finish") for rid in (done["id"], on_csv["id"])}
    weights = {rid: http.call("GET", f"/api/runs/{rid}/weights.safetensors")[1] for rid in before}
    going = http.json("POST", f"/api/sessions/{s['id']}/runs?label=going", spec(LONG), tok, status=201)
    wait_for(lambda: len(http.json("GET", f"/api/runs/{going['id']}")["history"]["epoch"]) >= 20, 30,
             what="the long run to train a while")
    time.sleep(0.6)  # at least two flushes (every 0.2 s) since it passed epoch 20
    server.kill()  # SIGKILL: no shutdown code runs

    server = serve(flush_seconds="0.2")
    http = Http(server.base)
    got = http.json("GET", f"/api/sessions/{s['id']}", token=tok)
    assert (got["title"], got["notes"], got["spec"]) == ("Survives", "n", parse_spec(spec()).to_json())
    runs = {r["id"]: r for r in got["runs"]}
    assert list(runs) == [done["id"], on_csv["id"], going["id"]]
    for rid, run in before.items():
        assert runs[rid]["history"] == run["history"] and runs[rid]["diagnosis"] == run["diagnosis"]
        assert runs[rid]["status"] == "finished"
        code, data = http.call("GET", f"/api/runs/{rid}/weights.safetensors")
        assert code == 200 and data == weights[rid]
    lost = runs[going["id"]]
    assert lost["status"] == "interrupted" and "server stopped" in lost["error"]
    # Its history up to the last flush, which came after epoch 20, and whole up to there.
    n = len(lost["history"]["epoch"])
    assert 20 <= n < 5000 and lost["history"]["epoch"] == list(range(1, n + 1))
    assert all(len(col) == n for col in lost["history"].values())
    assert got["uploads"] == [up]
    # The share link still opens the session, read-only, and runs still export.
    shared = http.json("GET", f"/api/shared/{s['share_token']}")
    assert [r["history"] for r in shared["runs"]] == [r["history"] for r in got["runs"]]
    code, page = http.call("GET", f"/s/{s['share_token']}")
    assert code == 200 and b"<html" in page.lower()
    assert http.call("PATCH", f"/api/sessions/{s['id']}", {"title": "x"}, s["share_token"])[0] == 403
    assert http.call("GET", f"/api/runs/{on_csv['id']}/export.py")[0] == 200
    # And the session still trains.
    again = http.json("POST", f"/api/sessions/{s['id']}/runs", spec(), tok, status=201)
    wait_for(lambda: saved(again["id"]), 30, what="a run after the restart")


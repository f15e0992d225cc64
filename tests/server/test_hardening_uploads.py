"""Issue 14, defect 6: an upload is read column by column with memory near its size, forks share
its table by content hash instead of copying it, and only a few uploads are parsed at once."""

from __future__ import annotations

import socket
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.csvdata import SEP, Table, describe, read_csv
from server.uploads import Uploads
from serverkit import strict_json, wait_for
from sessions_kit import bearer, db_count, flowers


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "layerlab.db"


def big_csv(rows: int = 20_000, cols: int = 50) -> bytes:
    """About 9 MiB at 20,000 rows: numeric features and a 3-class label, as a spreadsheet would export them."""
    x = np.random.default_rng(0).normal(size=(rows, cols - 1))
    lines = [",".join(f"c{j}" for j in range(cols))]
    lines += [",".join(f"{v:.6f}" for v in x[i]) + f",{i % 3}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.slow
def test_parsing_and_storing_an_upload_peaks_near_three_times_the_file():
    raw = big_csv(rows=5_000)  # ~2 MiB: tracemalloc slows parsing about fivefold
    uploads = Uploads.__new__(Uploads)  # parse() needs only the row cap; no database involved
    uploads.max_rows = 20_000
    tracemalloc.start()
    try:
        table, info = uploads.parse(raw, None, None, None)
        stored = table.to_bytes()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 3.5 * len(raw), f"peak {peak / 2**20:.0f} MiB for a {len(raw) / 2**20:.0f} MiB file"
    assert len(stored) <= 1.1 * len(raw)
    assert info["target"] == "c49" and info["task"] == "classification" and len(info["features"]) == 49


def test_the_columnar_table_reads_back_what_the_file_says():
    text = "a,b,label\n 1 ,x,\n\n2,\"y,\nz\",q\n3,,r\n"
    table = read_csv(text.encode(), max_rows=10)
    assert table.columns == ["a", "b", "label"] and table.lines.tolist() == [2, 5, 6]  # a row's line is where it ends
    assert table.column("a") == ["1", "2", "3"] and table.column("b") == ["x", "y,\nz", ""]
    assert table.column("label") == ["", "q", "r"]
    again = Table.from_bytes(table.to_bytes())
    assert again.columns == table.columns and again.texts == table.texts
    assert again.lines.tolist() == table.lines.tolist()
    assert read_csv(text, max_rows=10).texts == table.texts  # text and bytes read alike
    legacy = Table.from_json({"columns": table.columns, "lines": [2, 5, 6],
                              "cells": [table.column(c) for c in table.columns]})  # an older server's rows
    assert describe(legacy) == describe(table)
    assert all(SEP not in c for c in table.column("b"))


def test_a_fork_shares_the_upload_instead_of_copying_it(sapi, client, db):
    s = sapi.create()
    up = sapi.upload(s, flowers(), filename="flowers.csv")
    sapi.patch(s, {"spec": {"data": up["data"], "model": {"layers": []}}})
    f = sapi.fork(s)  # through the share link: no token
    assert db_count(db, "uploads") == 2 and db_count(db, "blobs") == 1
    copy = sapi.get(f)["uploads"][0]
    spec = {"data": copy["data"], "model": {"layers": []}, "training": {"epochs": 2, "device": "cpu"}}
    run = sapi.run(f, spec)
    assert sapi.wait_done(run["id"])["status"] == "finished"
    sapi.upload(s, flowers(), filename="again.csv")  # the same table again: the same blob
    assert db_count(db, "blobs") == 1
    assert client.delete(f"/api/sessions/{s['id']}", headers=bearer(s["edit_token"])).status_code == 204
    assert db_count(db, "blobs") == 1  # the fork still uses it
    assert client.delete(f"/api/sessions/{f['id']}", headers=bearer(f["edit_token"])).status_code == 204
    assert db_count(db, "blobs") == 0 and db_count(db, "uploads") == 0


def _slow_upload(port: int, s: dict[str, Any], size: int) -> socket.socket:
    """An upload whose body has only begun to arrive: it holds its slot until the socket closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall((f"POST /api/sessions/{s['id']}/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Bearer {s['edit_token']}\r\nContent-Type: text/csv\r\n"
                  f"Content-Length: {size}\r\n\r\na,b\n").encode())
    return sock


def test_uploads_beyond_the_concurrency_cap_get_503(make_live):
    import json
    import urllib.request

    live = make_live(max_concurrent_uploads=1)
    req = urllib.request.Request(live.base + "/api/sessions", data=b'{"title": "t"}',
                                 headers={"content-type": "application/json"})
    s = json.loads(urllib.request.urlopen(req, timeout=10).read())
    held = _slow_upload(live.port, s, 10_000)
    try:
        time.sleep(0.3)
        body = flowers().encode()

        def second() -> tuple[int, Any]:
            r = urllib.request.Request(live.base + f"/api/sessions/{s['id']}/uploads", data=body,
                                       headers={"authorization": f"Bearer {s['edit_token']}", "content-type": "text/csv"})
            try:
                with urllib.request.urlopen(r, timeout=10) as resp:
                    return resp.status, resp.headers
            except urllib.error.HTTPError as e:
                return e.code, e.headers

        code, headers = second()
        assert code == 503 and headers["Retry-After"] == "2"
    finally:
        held.close()
    assert wait_for(lambda: second()[0] == 201, 10, every=0.2, what="the slot to be free again")

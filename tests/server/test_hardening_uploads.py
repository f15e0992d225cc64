"""Issue 14, defect 6: an upload is read column by column with memory near its size, forks share
its table by content hash instead of copying it, and only a few uploads are parsed at once."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.csvdata import SEP, CsvError, Table, mostly_numbers, check_choice, describe, read_csv, select, suggest, to_number
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


def test_the_columnar_table_reads_back_what_the_file_says():
    text = "a,b,label\n 1 ,x,\n\n2,\"y,\nz\",q\n3,,r\n"
    table = read_csv(text.encode(), max_rows=10)
    assert table.columns == ["a", "b", "label"] and table.lines.tolist() == [2, 5, 6]  # a row's line is where it ends
    assert table.column("a") == ["1", "2", "3"] and table.column("b") == ["x", "y,\nz", ""]
    assert table.column("label") == ["", "q", "r"]
    again = Table.from_bytes(table.to_bytes())
    assert again == table and [again.column(c) for c in again.columns] == [table.column(c) for c in table.columns]
    assert again.lines.tolist() == table.lines.tolist()
    assert bytes(table.buffer()) == table.to_bytes()
    assert read_csv(text, max_rows=10) == table  # text and bytes read alike
    legacy = Table.from_json({"columns": table.columns, "lines": [2, 5, 6],
                              "cells": [table.column(c) for c in table.columns]})  # an older server's rows
    assert describe(legacy) == describe(table)
    assert all(SEP not in c for c in table.column("b"))


def _v1_form(table: Table) -> bytes:
    """The stored form written before 2026-12-03 (header first), built here from its description."""
    texts = [table.text(j).encode() for j in range(len(table.columns))]
    header = json.dumps({"columns": table.columns, "sizes": [len(t) for t in texts], "n_rows": table.n_rows}).encode()
    return b"LLTBL1\n" + len(header).to_bytes(8, "little") + header + b"".join(texts) + \
        np.asarray(table.lines, dtype="<i4").tobytes()


def test_tables_stored_in_the_older_form_still_read():
    table = read_csv("x,é\n1,ü\n2,\n3,ß\n".encode(), max_rows=10)
    old = Table.from_bytes(_v1_form(table))
    assert old == table and old.column("é") == ["ü", "", "ß"] and old.lines.tolist() == [2, 3, 4]
    assert Table.from_bytes(old.to_bytes()) == table  # an old blob's table is stored again as it came


def test_a_column_longer_than_its_share_of_the_file_grows_its_buffer():
    """Each column reserves twice its share of the file and grows by remapping past that."""
    rows = 3_000
    raw = ("long,y,z\n" + "".join(f"{'w' * 200}{i},{i % 2},{i % 3}\n" for i in range(rows))).encode()
    table = read_csv(raw, max_rows=rows)
    assert table.column("long")[1234] == "w" * 200 + "1234" and table.column("y")[-1] == "1"
    assert len(table.buffer()) < 1.05 * len(raw)


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


def _old_task(table: Table, target: str) -> str:
    """suggest()'s task as it was decided before the column stats: from every cell."""
    values = [v for v in table.column(target) if v]
    nums = [to_number(v) for v in values]
    whole = all(n is not None and n == int(n) for n in nums)
    return "classification" if not mostly_numbers(values) or (whole and len(set(nums)) <= 20) else "regression"


def _outcome(f):
    try:
        return f()
    except CsvError as e:
        return e.to_dict()


def test_the_column_stats_answer_as_reading_every_cell_would():
    n = 1_500
    cols = {"clean": [f"{i / 7:.4f}" for i in range(n)],
            "spellings": ["1", "1.0", "2", "02"] * (n // 4),  # four spellings, two classes
            "gaps": ["" if i % 9 == 0 else str(i % 3) for i in range(n)],
            "inf": ["inf" if i == 700 else "1" for i in range(n)],
            "under": [f"1_{i % 10}" for i in range(n)],  # float() reads underscores
            "mixed": ["x" if i % 3 == 0 else str(i) for i in range(n)],
            "text": ["abc"[i % 3] for i in range(n)],
            "manyints": [f"{i % 5:0{1 + i % 300}d}" for i in range(n)],  # >1000 spellings of 5 values
            "target": ["0" if i % 2 else "1" for i in range(n)]}
    raw = (",".join(cols) + "\n" + "\n".join(",".join(c[i] for c in cols.values()) for i in range(n)) + "\n").encode()
    parsed = read_csv(raw, max_rows=n)
    stored = Table.from_bytes(parsed.to_bytes())  # its stats are counted when first asked for
    expected = [{"name": name, "numeric": mostly_numbers(cells), "missing": cells.count(""),
                 "distinct": min(len({c for c in cells if c}), 1000)} for name, cells in cols.items()]
    for table in (parsed, stored):
        assert describe(table) == expected
        for target in cols:
            assert suggest(table, None, target, None)[2] == _old_task(table, target), target
            for feature in cols:  # the classes, or the same error naming the same cell
                for task in ("classification", "regression") if feature != target else ():
                    assert _outcome(lambda: check_choice(table, [feature], target, task)) == \
                        _outcome(lambda: select(table, [feature], target, task).classes), (feature, target, task)


PEAK_SCRIPT = """
import gc, sys
from pathlib import Path
import numpy as np
from engine.csvdata import Spool
from server.sessions import Sessions
from server.store import Store
from server.uploads import Uploads

def status(key):
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))

rows, floats, digits, folder = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
x = np.random.default_rng(0).normal(size=(rows, floats))
raw = ("\\n".join([",".join(f"f{j}" for j in range(floats)) + ",label"]
                   + [",".join(f"{v:.{digits}f}" for v in r) + "," + "abc"[i % 3] for i, r in enumerate(x)]) + "\\n").encode()
del x
store = Store(f"sqlite:///{folder}/peak.db")
uploads = Uploads(store, rows)
session, _ = Sessions(store).create("peak", "", None)
chunks = [raw[i:i + 65536] for i in range(0, len(raw), 65536)]  # as the server receives them
size = len(raw)
del raw
gc.collect()
Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from here
before = status("VmRSS:")
spool = Spool(size)  # read_capped, without the network
for c in chunks:
    spool.add(c)
body = spool.seal()
del spool
table, info = uploads.parse(body, None, None, None)
del body  # as the route does
row = uploads.insert(session.id, "peak.csv", size, table, info)
peak = (status("VmHWM:") - before) * 1024
assert uploads.table(row.id) == table
print(size, peak, info["task"], len(table.buffer()))
"""


@pytest.mark.slow
@pytest.mark.parametrize("rows, floats, digits", [(185_000, 8, 3), (20_000, 49, 6)])
def test_a_10_mb_upload_peaks_under_three_times_the_file_from_body_to_database(rows, floats, digits, tmp_path):
    """The whole process's resident high-water mark (not tracemalloc's count of Python objects), in a
    fresh interpreter so that no other test's heap counts, over what the upload route does with a
    10 MB file: its body gathered from 64 KiB chunks, parsed, checked, packed and stored in SQLite
    (`python -m bench upload` measures the same in a live server)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(rows), str(floats), str(digits), str(tmp_path)], cwd=root,
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    size, peak = int(out[0]), int(out[1])
    assert size > 9_000_000 and out[2] == "classification"
    assert peak <= 3.0 * size, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file ({peak / size:.1f}x)"

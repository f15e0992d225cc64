"""CSV uploads (issue 14): a 10 MB file's wall time and the server's peak memory, against the same
bytes read by a plain numpy or csv-module loop in the same process run.

Two shapes of about 10 MB: 20,000 rows of 49 floats and a label (the default row cap,
LAYERLAB_MAX_SAMPLES=20000), and 185,000 rows of 8 floats and a label (the cap raised for it).
Each is uploaded UPLOAD_REPEATS times to `layerlab serve` as its own process, a fresh file each
time (another seed), so every upload parses, hashes and writes its table. Peak memory is the
server's VmHWM after the upload less its VmRSS before, the high-water mark being reset first
(/proc/PID/clear_refs). Goals: at most 2 s, and a peak of at most 3x the file.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.server_bench import Server, serve_process, table
from bench.soak_bench import rss_mib

UPLOAD_REPEATS = int(os.environ.get("UPLOAD_REPEATS", "3"))
GOAL_SECONDS = 2.0
GOAL_PEAK = 3.0  # times the file


def wide_csv(seed: int, rows: int = 20_000, floats: int = 49) -> bytes:
    """~9.3 MB: 49 six-decimal floats and a 3-class whole-number label per row."""
    x = np.random.default_rng(seed).normal(size=(rows, floats))
    head = ",".join(f"c{j}" for j in range(floats)) + ",label"
    body = "\n".join(",".join(f"{v:.6f}" for v in r) + f",{i % 3}" for i, r in enumerate(x))
    return f"{head}\n{body}\n".encode()


def long_csv(seed: int, rows: int = 185_000, floats: int = 8) -> bytes:
    """~10 MB: 8 three-decimal floats and a text label per row."""
    x = np.random.default_rng(seed).normal(size=(rows, floats))
    head = ",".join(f"f{j}" for j in range(floats)) + ",label"
    body = "\n".join(",".join(f"{v:.3f}" for v in r) + "," + "abc"[i % 3] for i, r in enumerate(x))
    return f"{head}\n{body}\n".encode()


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _post(server: Server, path: str, data: bytes, token: str | None = None, kind: str = "text/csv") -> Any:
    headers = {"content-type": kind, **({"authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(server.base + path, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read()


def upload_once(server: Server, raw: bytes) -> tuple[float, float]:
    """(seconds, peak MiB over the RSS before) of one upload into a fresh session."""
    import json

    s = json.loads(_post(server, "/api/sessions", b'{"title": "bench"}', kind="application/json"))
    Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _status_kib(server.pid, "VmRSS")
    t = time.perf_counter()
    _post(server, f"/api/sessions/{s['id']}/uploads", raw, token=s["edit_token"])
    seconds = time.perf_counter() - t
    return seconds, (_status_kib(server.pid, "VmHWM") - before) / 1024


def _best_median(f: Callable[[], Any], n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def loadtxt_floats(raw: bytes) -> np.ndarray:
    """The floats of every column but the last, by numpy's C reader."""
    n = raw[:raw.index(b"\n")].count(b",") + 1
    return np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=1, usecols=range(n - 1), dtype=np.float64)


def csv_floats(raw: bytes) -> list[list[float]]:
    """The same with the csv module and float() per cell, column by column."""
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline=""))
    cols: list[list[float]] = [[] for _ in next(reader)[:-1]]
    for row in reader:
        for col, cell in zip(cols, row):
            col.append(float(cell))
    return cols


def rows_for(name: str, make: Callable[[int], bytes], env: dict[str, str]) -> list[dict[str, Any]]:
    files = [make(seed) for seed in range(UPLOAD_REPEATS)]
    size = len(files[0])
    with tempfile.TemporaryDirectory(prefix="layerlab-upload-") as tmp:
        with serve_process(Path(tmp) / "upload.db", **env) as server:
            base = rss_mib(server.pid)
            results = [upload_once(server, raw) for raw in files]
    times, peaks = [r[0] for r in results], [r[1] for r in results]
    mib = size / 2**20
    lt = _best_median(lambda: loadtxt_floats(files[0]), UPLOAD_REPEATS)
    cv = _best_median(lambda: csv_floats(files[0]), UPLOAD_REPEATS)
    return [
        {"name": f"upload {name} ({size / 1e6:.1f} MB), wall", "value": f"{min(times):.2f} s",
         "goal": f"<= {GOAL_SECONDS:g} s", "ok": min(times) <= GOAL_SECONDS,
         "detail": f"best of {len(times)}; median {statistics.median(times):.2f} s; in the same run np.loadtxt "
                   f"of its floats {lt[0]:.2f} s, a csv-module float() loop {cv[0]:.2f} s (best)"},
        {"name": f"upload {name}, peak RSS over before", "value": f"{max(peaks):.0f} MiB",
         "goal": f"<= {GOAL_PEAK:g}x file", "ok": max(peaks) <= GOAL_PEAK * mib,
         "detail": f"{max(peaks) / mib:.1f}x the {mib:.1f} MiB file (worst of {len(peaks)}; "
                   f"median {statistics.median(peaks):.0f} MiB); server at {base:.0f} MiB before the first"},
    ]


def main() -> bool:
    load = os.getloadavg()
    print(f"CSV uploads: layerlab serve on 127.0.0.1, {os.cpu_count()} cores, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    rows = rows_for("20,000 x 50", wide_csv, {})
    rows += rows_for("185,000 x 9", long_csv, {"max_samples": "200000"})
    print(table(rows))
    return all(r["ok"] for r in rows)


if __name__ == "__main__":
    main()

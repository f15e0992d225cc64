"""Server memory over a long mixed soak (issue 14), on `layerlab serve` as its own process.

For SOAK_SECONDS (default 600, the issue's ten minutes) it repeats a round of what students do:
open a session, upload a CSV, start runs in it and outside it, watch some to their `end`, open
websockets that read a few messages and leave mid-stream, stop some runs mid-training, fork the
session through its share link, delete the upload now and then. The server's RSS is sampled every
SAMPLE_SECONDS. Figures: RSS at the start (before the first round), after warm-up (the first tenth),
at the end and at its peak, and the growth over the last nine tenths: the goal is less than 10% of
the warmed-up figure, which is what "flat" means here (allocator noise is a few MiB).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from websockets.asyncio.client import connect

from bench.engine_bench import _circle
from bench.server_bench import Server, Viewer, _spec, serve_process, table

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
SAMPLE_SECONDS = 2.0
CSV_ROWS = 2000


def rss_mib(pid: int) -> float:
    """The process's resident set, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _call(server: Server, method: str, path: str, body: Any = None, token: Optional[str] = None,
          raw: Optional[bytes] = None) -> Any:
    headers = {"content-type": "text/csv" if raw is not None else "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(server.base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read()
    return json.loads(text) if text else None


def _csv(rng: random.Random) -> bytes:
    lines = ["x1,x2,x3,label"]
    for _ in range(CSV_ROWS):
        a, b, c = (rng.uniform(-1, 1) for _ in range(3))
        lines.append(f"{a:.4f},{b:.4f},{c:.4f},{'yes' if a * b + c > 0 else 'no'}")
    return ("\n".join(lines) + "\n").encode()


async def _peek(server: Server, run_id: str, messages: int) -> None:
    """A viewer that reads a few messages and closes mid-stream."""
    async with connect(f"{server.ws}/api/runs/{run_id}/stream", max_size=None, open_timeout=30) as ws:
        for _ in range(messages):
            await asyncio.wait_for(ws.recv(), 60)


async def _round(server: Server, rng: random.Random, counts: dict[str, int]) -> None:
    call = lambda *a, **k: asyncio.to_thread(_call, server, *a, **k)  # noqa: E731
    s = await call("POST", "/api/sessions", {"title": "soak"})
    sid, token = s["id"], s["edit_token"]
    up = await call("POST", f"/api/sessions/{sid}/uploads", raw=_csv(rng), token=token)
    counts["uploads"] += 1
    csv_spec = {"task": up["task"], "data": up["data"],
                "model": {"layers": [{"type": "dense", "units": 8, "activation": "relu"}]},
                "training": {"epochs": 20, "batch_size": 50, "device": "cpu"}}
    long_body = _spec(_circle(), 2000)  # stopped long before it ends
    short_body = _spec(_circle(), 30)
    watched = [(await call("POST", f"/api/sessions/{sid}/runs", csv_spec, token=token))["id"],
               (await call("POST", "/api/runs", short_body))["id"]]
    stopped = [(await call("POST", "/api/runs", long_body))["id"],
               (await call("POST", f"/api/sessions/{sid}/runs", long_body, token=token))["id"]]
    counts["runs"] += len(watched) + len(stopped)
    viewers = [Viewer(server, i) for i in watched]
    peeks = [_peek(server, i, rng.randint(1, 4)) for i in watched + stopped for _ in range(3)]
    counts["websockets"] += len(viewers) + len(peeks)
    await asyncio.gather(*(v.watch(timeout=120) for v in viewers), *peeks)
    counts["lost_ends"] += sum(v.end is None for v in viewers)
    for run_id, tok in zip(stopped, (None, token)):
        try:
            await call("POST", f"/api/runs/{run_id}/control", {"action": "stop"}, token=tok)
            counts["stopped"] += 1
        except urllib.error.HTTPError as e:  # 409: it ended first
            if e.code != 409:
                raise
    fork = await call("POST", f"/api/shared/{s['share_token']}/fork", {"title": "fork"})
    counts["forks"] += 1
    if rng.random() < 0.5:
        await call("DELETE", f"/api/sessions/{sid}/uploads/{up['id']}", token=token)
        await call("DELETE", f"/api/sessions/{fork['id']}", token=fork["edit_token"])


async def _soak(server: Server, seconds: float) -> tuple[list[tuple[float, float]], dict[str, int]]:
    rng = random.Random(0)
    counts = dict.fromkeys(("runs", "stopped", "websockets", "uploads", "forks", "lost_ends", "rounds"), 0)
    samples = [(0.0, rss_mib(server.pid))]
    start = time.monotonic()

    async def sample() -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            samples.append((time.monotonic() - start, rss_mib(server.pid)))

    sampler = asyncio.create_task(sample())
    while time.monotonic() - start < seconds:
        await _round(server, rng, counts)
        counts["rounds"] += 1
    sampler.cancel()
    samples.append((time.monotonic() - start, rss_mib(server.pid)))
    return samples, counts


def soak(server: Server, seconds: float = SOAK_SECONDS) -> dict[str, Any]:
    """One row: RSS growth after warm-up over a mixed soak of `seconds`."""
    samples, counts = asyncio.run(_soak(server, seconds))
    warm = next(rss for t, rss in samples if t >= seconds / 10)
    first, last, peak = samples[0][1], samples[-1][1], max(rss for _, rss in samples)
    growth = last - warm
    return {"name": f"RSS over a {seconds:g} s mixed soak", "value": f"{growth:+.0f} MiB",
            "goal": "< 10% of warm", "ok": growth < 0.1 * warm and counts["lost_ends"] == 0,
            "detail": f"{first:.0f} MiB at start, {warm:.0f} after warm-up, {last:.0f} at the end, peak {peak:.0f}; "
                      f"{counts['rounds']} rounds: {counts['runs']} runs ({counts['stopped']} stopped), "
                      f"{counts['websockets']} websockets, {counts['uploads']} uploads, {counts['forks']} forks, "
                      f"{counts['lost_ends']} ends lost",
            "samples": samples}


def main() -> None:
    print(f"server memory over a soak: layerlab serve on 127.0.0.1, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="layerlab-soak-") as tmp:
        with serve_process(Path(tmp) / "soak.db") as server:
            row = soak(server)
    trace = os.environ.get("SOAK_TRACE")
    if trace:  # every sample, for a plot: seconds, MiB
        Path(trace).write_text("".join(f"{t:.1f},{m:.1f}\n" for t, m in row["samples"]))
    print(table([row]))


if __name__ == "__main__":
    main()

"""The server under load (issue 14), on `layerlab serve` as its own process:

  crowd + health  8 runs at once watched by 50 websocket viewers while one client GETs /api/health
                  every few ms over a keep-alive connection, at the default worker count
                  (LAYERLAB_MAX_CONCURRENT_RUNS = the cores) and at 8 workers. Goal: health p99
                  <= 50 ms at any worker count, every run finished, 0 lost `end` messages, every
                  viewer's history equal to the server's.
  (the 10-minute memory soak is bench/soak_bench.py: `python -m bench soak`)
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from bench.engine_bench import _circle
from bench.server_bench import (CROWD_EPOCHS, CROWD_RUNS, CROWD_VIEWERS, Server, Viewer, _health_times, _pct,
                                _spec, serve_process, table)


def _health_until(server: Server, stop: threading.Event) -> list[float]:
    times: list[float] = []
    while not stop.is_set():
        times.extend(_health_times(server, 20))
    return times


async def _crowd_with_health(server: Server) -> dict[str, Any]:
    body = _spec(_circle(), CROWD_EPOCHS * 4)
    stop = threading.Event()
    health = asyncio.create_task(asyncio.to_thread(_health_until, server, stop))
    await asyncio.sleep(0.5)
    ids = [(await asyncio.to_thread(server.post, "/api/runs", body))["id"] for _ in range(CROWD_RUNS)]
    viewers = [Viewer(server, ids[i % CROWD_RUNS]) for i in range(CROWD_VIEWERS)]
    await asyncio.gather(*(v.watch(timeout=300) for v in viewers), return_exceptions=True)
    stop.set()
    times = await health
    runs = {i: await asyncio.to_thread(server.get, f"/api/runs/{i}") for i in ids}
    finished = sum(r["status"] == "finished" for r in runs.values())
    lost = sum(v.end is None for v in viewers)
    complete = sum(v.history == runs[v.url.rsplit("/", 2)[-2]]["history"] for v in viewers)
    return {"times": times, "finished": finished, "lost": lost, "complete": complete}


def crowd_health(server: Server, workers: str) -> dict[str, Any]:
    r = asyncio.run(_crowd_with_health(server))
    p99 = _pct(r["times"], 99)
    ok = p99 <= 0.050 and r["finished"] == CROWD_RUNS and r["lost"] == 0 and r["complete"] == CROWD_VIEWERS
    return {"name": f"health p99, {CROWD_RUNS} runs x {CROWD_VIEWERS} viewers, {workers} workers",
            "value": f"{p99 * 1000:.1f} ms", "goal": "<= 50 ms, 0 lost", "ok": ok,
            "detail": f"p50 {_pct(r['times'], 50) * 1000:.1f} ms, max {max(r['times']) * 1000:.0f} ms, "
                      f"{len(r['times'])} requests; {r['finished']}/{CROWD_RUNS} finished, {r['lost']} ends lost, "
                      f"{r['complete']}/{CROWD_VIEWERS} histories complete"}


def main() -> None:
    print(f"server under load: layerlab serve on 127.0.0.1, {os.cpu_count()} cores")
    rows = []
    with tempfile.TemporaryDirectory(prefix="layerlab-load-") as tmp:
        for workers in (None, str(CROWD_RUNS)):
            env = {} if workers is None else {"max_concurrent_runs": workers}
            with serve_process(Path(tmp) / f"crowd-{workers}.db", **env) as server:
                rows.append(crowd_health(server, workers or f"default ({os.cpu_count()})"))
    print(table(rows))


if __name__ == "__main__":
    main()

"""The scale-out against its goals: two `layerlab serve` replicas on one PostgreSQL and one Ray head
(the tests' throwaway ones, tests/server/clusterkit.py), all on this machine.

  first metrics  POST /api/runs on replica A -> the first `metrics` message with an epoch, on A's
                 websocket, with the pool warm (trainers started, torch imported). Best and worst.
  latency        trainer -> client across replicas: a run POSTed to A, watched on B. The probe is a
                 Ray driver here that long-polls the run's trainer log, as a replica does: the moment
                 an epoch is visible in the log is (within a Ray call, ~1 ms) the moment it was done.
                 Each epoch's latency is its arrival on B's websocket minus that moment.
  throughput     one run's epochs per second as its websocket client sees them (first batch to last),
                 on Ray against a local-executor `layerlab serve` (SQLite) doing the same run. Interleaved,
                 best of REPEATS.
  crowd          8 runs at once, POSTed alternately to A and B and each watched on the other replica:
                 every run must finish and every viewer must get its `end`, with the history GET returns.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from bench.engine_bench import _circle
from bench.server_bench import ROOT, Server, Viewer, _first_metrics, _free_port, _pct, _spec, _steady_rate, table

sys.path.insert(0, str(ROOT / "tests" / "server"))  # the same throwaway PostgreSQL and Ray head as the tests
from clusterkit import Postgres, RayHead, pg_available  # noqa: E402

REPEATS = 3
FIRST_METRICS_TRIALS = 8
CROWD_RUNS, CROWD_EPOCHS = 8, 300
LATENCY_EPOCHS = 1500
THROUGHPUT_EPOCHS = 1500


@contextmanager
def replica(**env: str) -> Iterator[Server]:
    """`layerlab serve` with these LAYERLAB_* settings, as its own process; SIGTERM at the end."""
    server = Server(_free_port())
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
    full_env.update({f"LAYERLAB_{k.upper()}": v for k, v in env.items()}, LAYERLAB_LOG_LEVEL="warning",
                    RAY_AUTH_MODE="disabled")
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(server.port)], env=full_env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.pid = proc.pid
    try:
        server.wait_up(proc, timeout=240)  # the first replica waits for the pool's trainers to be warm
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def first_metrics(a: Server) -> dict[str, Any]:
    body = _spec(_circle(), 5000)
    times = [asyncio.run(_first_metrics(a, body)) for _ in range(FIRST_METRICS_TRIALS)]
    worst = max(times)
    return {"name": "cluster: POST -> first metrics, warm, worst", "value": f"{worst * 1000:.0f} ms",
            "detail": f"best {min(times) * 1000:.0f} ms, median {sorted(times)[len(times) // 2] * 1000:.0f} ms "
                      f"of {len(times)}, POST and websocket on replica A",
            "goal": "<= 1000 ms", "ok": worst <= 1.0}


def _probe(pool: Any, run_id: str, seen: dict[int, float], stop: threading.Event) -> None:
    """Note when each epoch becomes visible in the run's trainer log (epoch -> monotonic)."""
    import ray
    from engine.events import EpochEvent

    worker, cursor = None, 0
    while not stop.is_set():
        if worker is None:
            where = ray.get(pool.where.remote(run_id))
            if where["state"] != "running":
                time.sleep(0.001)
                continue
            worker = where["worker"]
        got = ray.get(worker.poll.remote(run_id, cursor, 0.5))
        if got is None:
            continue
        items, cursor = got
        now = time.monotonic()
        for item in items:
            if isinstance(item, EpochEvent):
                seen.setdefault(item.metrics.epoch, now)
            elif isinstance(item, tuple) and item[0] == "done":
                return


def latency(a: Server, b: Server, pool: Any) -> dict[str, Any]:
    run_id = a.post("/api/runs", _spec(_circle(), LATENCY_EPOCHS))["id"]
    seen: dict[int, float] = {}
    stop = threading.Event()
    probe = threading.Thread(target=_probe, args=(pool, run_id, seen, stop), daemon=True)
    probe.start()
    viewer = asyncio.run(Viewer(b, run_id).watch())
    stop.set()
    probe.join(5)
    lat = [t - seen[e] for t, epochs in viewer.arrivals[1:] for e in epochs if e in seen]
    p99 = _pct(lat, 99)
    return {"name": "cluster: latency trainer -> client on B, p99", "value": f"{p99 * 1000:.0f} ms",
            "detail": f"p50 {_pct(lat, 50) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms, {len(lat)} epochs; "
                      f"run POSTed to A, watched on B (50 ms coalescing)",
            "goal": "<= 150 ms", "ok": p99 <= 0.150}


def throughput(ray_server: Server, local_server: Server) -> dict[str, Any]:
    body = _spec(_circle(), THROUGHPUT_EPOCHS)
    best = {"ray": 0.0, "local": 0.0}
    for r in range(REPEATS):
        for side in (["ray", "local"] if r % 2 == 0 else ["local", "ray"]):
            server = ray_server if side == "ray" else local_server
            run_id = server.post("/api/runs", body)["id"]
            viewer = asyncio.run(Viewer(server, run_id).watch())
            best[side] = max(best[side], _steady_rate(viewer))
    ratio = best["ray"] / best["local"]
    return {"name": "cluster: one run's throughput, Ray / local", "value": f"{ratio:.2f}x",
            "detail": f"{best['ray']:,.0f} vs {best['local']:,.0f} epochs/s as the websocket client sees them, "
                      f"{THROUGHPUT_EPOCHS} epochs, best of {REPEATS}",
            "goal": ">= 0.9x", "ok": ratio >= 0.9}


async def _crowd(a: Server, b: Server) -> dict[str, Any]:
    body = _spec(_circle(), CROWD_EPOCHS)
    t0 = time.perf_counter()
    posts = [(a, b) if i % 2 == 0 else (b, a) for i in range(CROWD_RUNS)]
    ids = [(await asyncio.to_thread(p.post, "/api/runs", body))["id"] for p, _ in posts]
    viewers = [Viewer(w, i) for (_, w), i in zip(posts, ids)]
    await asyncio.gather(*(v.watch(timeout=300) for v in viewers), return_exceptions=True)
    wall = time.perf_counter() - t0
    runs = [await asyncio.to_thread(w.get, f"/api/runs/{i}") for (_, w), i in zip(posts, ids)]
    finished = sum(r["status"] == "finished" and len(r["history"]["epoch"]) == CROWD_EPOCHS for r in runs)
    ends = sum(v.end is not None for v in viewers)
    complete = sum(v.history == r["history"] for v, r in zip(viewers, runs))
    return {"finished": finished, "ends": ends, "complete": complete, "wall": wall}


def crowd(a: Server, b: Server, workers: int) -> dict[str, Any]:
    r = asyncio.run(_crowd(a, b))
    lost = CROWD_RUNS - r["ends"]
    return {"name": f"cluster: {CROWD_RUNS} runs at once, ends lost",
            "value": f"{r['finished']}/{CROWD_RUNS}, {lost} lost",
            "detail": f"{r['complete']}/{CROWD_RUNS} histories equal GET's, {CROWD_EPOCHS} epochs each on {workers} "
                      f"trainers, all done in {r['wall']:.1f} s; POSTed to one replica, watched on the other",
            "goal": f"{CROWD_RUNS}/{CROWD_RUNS}, 0 lost", "ok": r["finished"] == CROWD_RUNS and lost == 0
            and r["complete"] == CROWD_RUNS}


def main() -> None:
    why = pg_available()
    try:
        import ray
    except ImportError:
        why = why or "ray is not installed (pip install -e .[cluster])"
    if why:
        print(f"cluster: skipped: {why}")
        return
    from server.executors.ray_actors import pool_name

    workers = 2
    print(f"cluster vs goals: 2 replicas on PostgreSQL 15 and a local Ray head ({workers} trainers), "
          f"{os.cpu_count()} cores, workload {_circle().name}")
    pg, head = Postgres(), RayHead(num_cpus=workers)
    rows: list[dict[str, Any]] = []
    try:
        url = pg.new_database()
        env = {"executor": "ray", "ray_address": head.address, "database_url": url, "ray_workers": str(workers),
               "max_concurrent_runs": str(CROWD_RUNS)}
        with replica(**env) as a, replica(**env) as b, tempfile.TemporaryDirectory() as tmp:
            ray.init(address=head.address, namespace="layerlab", log_to_driver=False, configure_logging=False)
            pool = ray.get_actor(pool_name(url), namespace="layerlab")
            rows.append(first_metrics(a))
            rows.append(latency(a, b, pool))
            with replica(database_url=f"sqlite:///{Path(tmp) / 'local.db'}") as local:
                rows.append(throughput(a, local))
            rows.append(crowd(a, b, workers))
            ray.shutdown()
    finally:
        head.close()
        pg.close()
    print(table(rows))

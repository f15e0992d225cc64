"""The live training server against its goals, measured on a real uvicorn on 127.0.0.1.

  throughput    a run POSTed to the server and streamed to one websocket client, against the engine
                bench's plain PyTorch loop doing the same epochs of the same model; both reach the
                same validation loss, so they did the same work. Interleaved, best of REPEATS.
                The figure is wall-clock epochs per second as the client sees them arrive, from the
                first metrics batch to the last (so start-up and teardown, measured separately, are
                left out), against the plain loop's epochs per second.
  CPU per step  the same runs, in CPU seconds: the server process's (all its threads: trainer, event
                loop, database; POST to `end`) against the plain loop's. It charges the server for work
                its event loop does on another core, so it is a cost, not a speed. Beside it: the
                engine's Trainer.run() timed the same way in this process, which splits the gap into
                the engine's part and the server's, and the POST-to-GET wall-clock ratio.
  first metrics from just before POST /api/runs to the first `metrics` message with an epoch in it
                (the websocket handshake included); the first trial is a freshly started server's
                first run.
  latency       trainer -> client, per epoch. The server's messages carry no timestamps, so this one
                runs the app in this process (uvicorn in a thread) with a probe on the trainer's side
                of the EventPipe: the moment the worker hands the pipe an epoch is the moment that
                epoch finished (emit is called as step() returns). The client notes time.monotonic()
                on each `metrics` batch; each epoch's latency is its batch's arrival minus its hand-over.
                The probe adds one clock read per epoch; the client shares the GIL with the server,
                which makes the figure an upper bound.
  health        GET /api/health over one keep-alive connection, one every few ms, while 2 runs train
                and stream to a viewer each.
  crowd         8 runs at once (LAYERLAB_MAX_CONCURRENT_RUNS=8) watched by 50 websocket viewers:
                every run must finish, every viewer must get its `end`, and every viewer's appended
                batches must equal GET /api/runs/{id}'s history.

The other measurements use `layerlab serve` as a separate process, as a browser would see it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import torch
from websockets.asyncio.client import connect

from bench.engine_bench import Workload, _circle, _cnn_digits, _lstm_sequences, engine_run, plain
from engine.events import EpochEvent
from engine.spec import merge_patch, parse_spec
from engine.trainer import Trainer

REPEATS = 5
THROUGHPUT_SECONDS = 2.0  # length of each side of the throughput comparison
FIRST_METRICS_TRIALS = 8
HEALTH_REQUESTS = 400
CROWD_RUNS, CROWD_VIEWERS, CROWD_EPOCHS = 8, 50, 60
ROOT = Path(__file__).resolve().parent.parent


# -- a server ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A base URL and a few calls; the same for the subprocess and the in-process server."""

    def __init__(self, port: int, pid: Optional[int] = None) -> None:
        self.port = port
        self.pid = pid or os.getpid()
        self.base = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"

    def post(self, path: str, body: Any) -> dict[str, Any]:
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.base + path, timeout=30) as r:
            return json.load(r)

    def cpu_seconds(self) -> float:
        """CPU time the server's process has used (user + system), from /proc."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_up(self, proc: Optional[subprocess.Popen] = None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"layerlab serve exited with {proc.returncode}")
            try:
                self.get("/api/health")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not come up")


@contextmanager
def serve_process(db: Path, **env: str) -> Iterator[Server]:
    """`layerlab serve` on a free loopback port, as its own process; SIGTERM at the end."""
    server = Server(_free_port())
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}
    full_env.update({f"LAYERLAB_{k.upper()}": v for k, v in env.items()}, LAYERLAB_LOG_LEVEL="warning")
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(server.port), "--db", str(db)], env=full_env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.pid = proc.pid
    try:
        server.wait_up(proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- a websocket viewer -------------------------------------------------------------------------------
class Viewer:
    """Receives one run's stream until `end`, noting each metrics batch's arrival time."""

    def __init__(self, server: Server, run_id: str) -> None:
        self.url = f"{server.ws}/api/runs/{run_id}/stream"
        self.history: dict[str, list] = {}
        self.arrivals: list[tuple[float, list[int]]] = []  # (monotonic, epochs in the batch)
        self.end: Optional[dict[str, Any]] = None

    async def watch(self, first_metrics: Optional[asyncio.Event] = None, timeout: float = 120.0) -> "Viewer":
        async with connect(self.url, max_size=None, open_timeout=30) as ws:
            async with asyncio.timeout(timeout):
                async for raw in ws:
                    now = time.monotonic()
                    msg = json.loads(raw)
                    if msg["type"] == "metrics":
                        self.arrivals.append((now, msg["epoch"]))
                        for k, v in msg.items():
                            if k != "type":
                                self.history.setdefault(k, []).extend(v)
                        if first_metrics is not None and msg["epoch"]:
                            first_metrics.set()
                    elif msg["type"] == "end":
                        self.end = msg
                        return self
        return self


def _spec(w: Workload, epochs: int) -> dict[str, Any]:
    return merge_patch(w.spec.to_json(), {"training": {"epochs": epochs}})


def _pct(values: list[float], q: float) -> float:
    """The q-th percentile, nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


# -- 1. throughput --------------------------------------------------------------------------------------
def _streamed(server: Server, body: dict[str, Any]) -> tuple[Viewer, dict[str, list]]:
    run_id = server.post("/api/runs", body)["id"]
    viewer = asyncio.run(Viewer(server, run_id).watch())
    return viewer, server.get(f"/api/runs/{run_id}")["history"]


def _with_epochs(base: Workload, epochs: int) -> Workload:
    return Workload(base.name, parse_spec(_spec(base, epochs)), base.build, base.optimizer, base.loss, base.classes)


def throughput(server: Server, base: Workload | None = None, goal: float = 0.95) -> list[dict[str, Any]]:
    base = base or _circle()
    probe = _with_epochs(base, 20)
    split = Trainer(probe.spec).split
    steps_per_epoch = math.ceil(len(split.x_train) / probe.spec.training.batch_size)
    t0 = time.process_time()
    plain(probe, split)
    epochs = max(50, int(THROUGHPUT_SECONDS / ((time.process_time() - t0) / 20)))  # ~THROUGHPUT_SECONDS a side
    w = _with_epochs(base, epochs)
    body = w.spec.to_json()
    # side -> (CPU clock, wall clock): the plain loop and Trainer.run() here, the server in its process
    clocks = {"plain": (time.process_time, time.perf_counter), "run": (time.process_time, time.perf_counter),
              "server": (server.cpu_seconds, time.perf_counter)}
    best = {side: [math.inf, math.inf] for side in clocks}
    steady = 0.0  # epochs per second the viewer saw, first metrics batch to last: no start-up or teardown
    val: dict[str, float] = {}
    same = True
    for r in range(REPEATS):  # interleaved and rotated: load from elsewhere hits every side alike
        sides = list(clocks)
        for side in sides[r % 3:] + sides[:r % 3]:
            cpu, wall = clocks[side]
            c0, t0 = cpu(), wall()
            if side == "plain":
                val[side] = plain(w, split)[1]
            elif side == "run":
                val[side] = engine_run(w)[1]
            else:
                viewer, history = _streamed(server, body)
                steady = max(steady, _steady_rate(viewer))
                val[side] = history["val_loss"][-1]
                same &= (viewer.end or {}).get("status") == "finished" and viewer.history == history \
                    and len(history["epoch"]) == epochs
            best[side] = [min(best[side][0], cpu() - c0), min(best[side][1], wall() - t0)]
    same &= all(abs(v - val["plain"]) <= 1e-5 for v in val.values())
    (plain_cpu, plain_wall), (run_cpu, run_wall), (server_cpu, server_wall) = best["plain"], best["run"], best["server"]
    cpu_ratio = plain_cpu / server_cpu
    wall_ratio = steady / (epochs / plain_wall)
    server_share = steady / (epochs / run_wall)  # what serving costs on top of the engine's own run()
    steps = epochs * steps_per_epoch
    note = "" if same else "; RESULTS DIFFER"
    return [
        {"name": f"streamed / plain: {base.name.split(',')[0]}", "value": f"{wall_ratio:.2f}x",
         "detail": f"{steady * steps_per_epoch:,.0f} vs {steps / plain_wall:,.0f} steps/s: epochs per second as the "
                   f"websocket client sees them arrive (first batch to last) against the plain loop's, wall clock, "
                   f"{epochs} epochs, best of {REPEATS}; against the engine's own Trainer.run() here {server_share:.2f}x{note}",
         "goal": f">= {goal:.2f}x", "ok": wall_ratio >= goal and same},
        {"name": f"CPU/step plain / server: {base.name.split(',')[0]}", "value": f"{cpu_ratio:.2f}x",
         "detail": f"{steps / server_cpu:,.0f} vs {steps / plain_cpu:,.0f} steps per CPU s, whole run: the server "
                   f"process's CPU (event loop, HTTP, database included) against the plain loop's; engine "
                   f"Trainer.run() / plain {plain_cpu / run_cpu:.2f}x, server / Trainer.run() {run_cpu / server_cpu:.2f}x; "
                   f"POST to GET wall clock {plain_wall / server_wall:.2f}x{note}",
         "goal": "(cost, no goal)", "ok": same},
    ]


def _steady_rate(viewer: "Viewer") -> float:
    """Epochs per second between the first and the last metrics batch the viewer received."""
    (t0, first), (t1, last) = viewer.arrivals[0], viewer.arrivals[-1]
    return (last[-1] - first[-1]) / max(t1 - t0, 1e-9)


# -- 2. POST -> first metrics ---------------------------------------------------------------------------------
async def _first_metrics(server: Server, body: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    run_id = (await asyncio.to_thread(server.post, "/api/runs", body))["id"]
    async with connect(f"{server.ws}/api/runs/{run_id}/stream", max_size=None) as ws:
        async for raw in ws:
            msg = json.loads(raw)
            if msg["type"] == "metrics" and msg["epoch"]:
                elapsed = time.perf_counter() - t0
                await ws.send(json.dumps({"action": "stop"}))
                return elapsed
    raise RuntimeError("the stream ended without metrics")


def first_metrics(server: Server) -> dict[str, Any]:
    body = _spec(_circle(), 5000)
    times = [asyncio.run(_first_metrics(server, body)) for _ in range(FIRST_METRICS_TRIALS)]
    worst = max(times)
    return {"name": "POST /api/runs -> first metrics, worst", "value": f"{worst * 1000:.0f} ms",
            "detail": f"median {statistics.median(times) * 1000:.0f} ms of {len(times)}",
            "goal": "<= 500 ms", "ok": worst <= 0.5}


# -- 3. health while 2 runs train ------------------------------------------------------------------------------
def _health_times(server: Server, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", "/api/health")
            r = conn.getresponse()
            r.read()
            out.append(time.perf_counter() - t0)
            assert r.status == 200
            time.sleep(0.003)
    finally:
        conn.close()
    return out


async def _health_under_load(server: Server) -> tuple[list[float], int]:
    body = _spec(_circle(), 5000)
    ids = [(await asyncio.to_thread(server.post, "/api/runs", body))["id"] for _ in range(2)]
    viewers = [asyncio.create_task(Viewer(server, i).watch()) for i in ids]
    await asyncio.sleep(0.5)
    times = await asyncio.to_thread(_health_times, server, HEALTH_REQUESTS)
    active = (await asyncio.to_thread(server.get, "/api/health"))["runs"]["active"]
    for i in ids:
        await asyncio.to_thread(server.post, f"/api/runs/{i}/control", {"action": "stop"})
    await asyncio.gather(*viewers)
    return times, active


def health(server: Server) -> dict[str, Any]:
    times, active = asyncio.run(_health_under_load(server))
    p99 = _pct(times, 99)
    return {"name": "GET /api/health p99, 2 runs training", "value": f"{p99 * 1000:.1f} ms",
            "detail": f"p50 {_pct(times, 50) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms, "
                      f"{len(times)} requests, {active} runs active",
            "goal": "<= 20 ms", "ok": p99 <= 0.020 and active == 2}


# -- 4. 8 runs, 50 viewers --------------------------------------------------------------------------------------
async def _crowd(server: Server) -> dict[str, Any]:
    body = _spec(_circle(), CROWD_EPOCHS)
    t0 = time.perf_counter()
    ids = [(await asyncio.to_thread(server.post, "/api/runs", body))["id"] for _ in range(CROWD_RUNS)]
    viewers = [Viewer(server, ids[i % CROWD_RUNS]) for i in range(CROWD_VIEWERS)]
    done: dict[str, float] = {}

    async def watch(v: Viewer) -> None:
        await v.watch(timeout=150)
        done.setdefault(v.url, time.perf_counter() - t0)

    await asyncio.gather(*(watch(v) for v in viewers), return_exceptions=True)
    wall = time.perf_counter() - t0
    runs = {i: await asyncio.to_thread(server.get, f"/api/runs/{i}") for i in ids}
    finished = sum(r["status"] == "finished" and len(r["history"]["epoch"]) == CROWD_EPOCHS for r in runs.values())
    ends = sum(v.end is not None for v in viewers)
    complete = sum(v.history == runs[v.url.rsplit("/", 2)[-2]]["history"] for v in viewers)
    return {"finished": finished, "ends": ends, "complete": complete, "wall": wall,
            "first": min(done.values(), default=math.nan)}


def crowd(server: Server) -> dict[str, Any]:
    r = asyncio.run(_crowd(server))
    lost = CROWD_VIEWERS - r["ends"]
    ok = r["finished"] == CROWD_RUNS and lost == 0 and r["complete"] == CROWD_VIEWERS
    return {"name": f"{CROWD_RUNS} runs x {CROWD_VIEWERS} viewers: runs done, ends lost",
            "value": f"{r['finished']}/{CROWD_RUNS}, {lost} lost",
            "detail": f"{r['complete']}/{CROWD_VIEWERS} histories complete, {CROWD_EPOCHS} epochs each; "
                      f"runs ended between {r['first']:.1f} s and {r['wall']:.1f} s",
            "goal": f"{CROWD_RUNS}/{CROWD_RUNS}, 0 lost", "ok": ok}


# -- 5. latency trainer -> client (in process, with a probe) ---------------------------------------------------------
@contextmanager
def _handover_probe() -> Iterator[dict[int, float]]:
    """Note when each epoch enters the server's EventPipe on the worker thread (epoch -> monotonic)."""
    import server.manager as manager

    handed: dict[int, float] = {}
    original = manager.EventPipe

    class ProbedPipe(original):  # type: ignore[misc, valid-type]
        def put(self, item: Any) -> None:
            if isinstance(item, EpochEvent):
                handed[item.metrics.epoch] = time.monotonic()
            super().put(item)

    manager.EventPipe = ProbedPipe
    try:
        yield handed
    finally:
        manager.EventPipe = original


@contextmanager
def serve_in_process(db: Path) -> Iterator[Server]:
    import uvicorn

    from server.app import create_app
    from server.cli import uvicorn_options
    from server.settings import Settings

    server = Server(_free_port())
    settings = Settings(database_url=f"sqlite:///{db}", log_level="warning")
    app = create_app(settings)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=server.port, log_level="warning",
                                       **uvicorn_options(settings)))  # as `layerlab serve` runs it
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        server.wait_up()
        yield server
    finally:
        uv.should_exit = True
        thread.join(15)


def latency(tmp: Path) -> dict[str, Any]:
    body = _spec(_circle(), 1500)
    with _handover_probe() as handed, serve_in_process(tmp / "latency.db") as server:
        run_id = server.post("/api/runs", body)["id"]
        viewer = asyncio.run(Viewer(server, run_id).watch())
    # batches that arrived live (the replay on connect holds epochs that were done before the client came)
    lat = [(t - handed[e]) for t, epochs in viewer.arrivals[1:] for e in epochs if e in handed]
    p99 = _pct(lat, 99)
    return {"name": "metric latency trainer -> client p99", "value": f"{p99 * 1000:.0f} ms",
            "detail": f"p50 {_pct(lat, 50) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms, {len(lat)} epochs in "
                      f"{len(viewer.arrivals) - 1} batches (50 ms coalescing)",
            "goal": "<= 100 ms", "ok": p99 <= 0.100}


# -- the table ---------------------------------------------------------------------------------------------------------
def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'measure':<46}{'value':>14}  {'goal':<16}{'met':<5}detail"
    lines = [head, "-" * (len(head) + 40)]
    for r in rows:
        lines.append(f"{r['name']:<46}{r['value']:>14}  {r['goal']:<16}{'yes' if r['ok'] else 'NO':<5}{r['detail']}")
    return "\n".join(lines)


def main() -> None:
    torch.set_num_threads(1)
    print(f"server vs goals: real uvicorn on 127.0.0.1, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"workload {_circle().name}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="layerlab-bench-") as tmp:
        path = Path(tmp)
        with serve_process(path / "bench.db") as server:
            first = first_metrics(server)  # first: its first trial is a fresh server's first run
            rows.extend(throughput(server))
            for make in (_cnn_digits, _lstm_sequences):  # the CNN and recurrent families' workloads
                rows.extend(throughput(server, make(), goal=0.90))
            rows.append(first)
            rows.append(health(server))
        rows.append(latency(path))
        with serve_process(path / "crowd.db", max_concurrent_runs=str(CROWD_RUNS)) as server:
            rows.append(crowd(server))
    print(table(rows))

"""Scale-out for real: two `layerlab serve` replicas on one PostgreSQL and one Ray head, all started
here. A run started on one replica is watched and steered through the other; a replica killed with
kill -9 loses no run; a Ray trainer killed mid-run fails its run with a reason and the cluster
carries on; a brief PostgreSQL restart loses nothing."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from clusterkit import Nginx, nginx_available
from serverkit import Stream, ServeProcess, http_api, spec, wait_for

# One Ray head, one PostgreSQL and one pair of replicas for the whole module: under pytest-xdist
# (`--dist loadfile`, as make test runs it) its tests stay on one worker, in this order (the last one
# kills replica A).
pytestmark = [pytest.mark.cluster, pytest.mark.slow]
ray = pytest.importorskip("ray")

# ~2-5 ms an epoch on a trainer here: long enough to pause, step and kill a replica mid-run.
RUN = {"training": {"epochs": 1500}}


class Replicas:
    """Two replicas (A, B) of one Layerlab on the cluster, and a Ray driver of the test's own."""

    def __init__(self, url: str, address: str, tmp: Path) -> None:
        env = {"executor": "ray", "ray_address": address, "database_url": url, "ray_workers": "1",
               "flush_seconds": "0.5", "log_level": "warning"}
        # Started together, as replicas are: one of them creates the pool, both wait for its trainers (one
        # CPU, one GPU: each imports torch, tens of seconds on a loaded CI machine; one CPU trainer is
        # enough, as these tests train one run at a time).
        self.a = ServeProcess(None, tmp / "a.log", start_timeout=None, **env)
        self.b = ServeProcess(None, tmp / "b.log", start_timeout=None, **env)
        self.a.wait_healthy(180)
        self.b.wait_healthy(60)
        self.url = url
        ray.init(address=address, namespace="layerlab", log_to_driver=False, configure_logging=False)

    def pool(self) -> Any:
        from server.executors.ray_actors import pool_name

        return ray.get_actor(pool_name(self.url), namespace="layerlab")

    def close(self) -> None:
        ray.shutdown()
        for p in (self.a, self.b):
            p.kill()


def _row(url: str, run_id: str) -> tuple[str, str, dict[str, Any]]:
    """A run's status, error and history as the database has them, on a connection of the test's own."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(text("SELECT status, error, history FROM runs WHERE id = :i"),
                                      {"i": run_id}).one())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def replicas(postgres, ray_head, tmp_path_factory) -> Iterator[Replicas]:
    r = Replicas(postgres.new_database(), ray_head.address, tmp_path_factory.mktemp("replicas"))
    yield r
    r.close()


def test_health_shows_the_clusters_devices(replicas):
    for p in (replicas.a, replicas.b):
        assert p.api.get("/api/health")["devices"] == ["cpu", "cuda"]  # the head declares one GPU (conftest)
    body = replicas.b.api.create(spec({"training": {"device": "mps"}}), status=422)
    (err,) = body["errors"]
    assert err["path"] == "training.device" and err["message"].endswith("available: cpu, cuda")


def test_a_cuda_run_waits_for_the_gpu_trainer_which_picks_its_device_with_torch(replicas):
    """The GPU path short of a GPU: Ray schedules on the head's declared GPU as on a real one, so the
    pool's GPU trainer (num_gpus=1) holds it, and runs of device cuda (or auto) queue for that trainer
    alone. In the trainer, engine/device.py asks torch, which finds no CUDA on this machine."""
    import torch

    b, pool = replicas.b, replicas.pool()
    assert ray.get(pool.stats.remote())["sizes"] == {"cpu": 1, "cuda": 1}
    assert ray.cluster_resources()["GPU"] == 1 and ray.available_resources().get("GPU", 0) == 0  # held
    # `auto` takes the GPU trainer where the cluster has one; there, torch finds no CUDA and it trains on the CPU
    holder = b.api.create(spec({"training": {"device": "auto", "epochs": 5000}}))["id"]
    b.api.wait_epochs(holder, 3)
    cuda = b.api.create(spec({"training": {"device": "cuda"}}))["id"]
    time.sleep(0.5)  # the CPU trainer is idle, yet it waits for the GPU one
    assert ray.get(pool.where.remote(cuda))["state"] == "queued" and b.api.run(cuda)["status"] == "queued"
    assert ray.get(pool.stats.remote())["queued"] == {"cpu": 0, "cuda": 1}
    b.api.control(holder, {"action": "stop"})
    assert b.api.wait_status(holder, "stopped")["history"]["epoch"]
    if torch.cuda.is_available():  # a machine with a GPU: Ray gave the trainer GPU 0
        assert b.api.wait_status(cuda, "finished", timeout=60)["status"] == "finished"
    else:
        failed = b.api.wait_status(cuda, "failed", timeout=30)
        assert "device 'cuda' is not available here; available: cpu" in failed["error"]


def _call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """One JSON request to a replica, with the session's edit token if given."""
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(base + path, method=method, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_sessions_share_links_and_forks_work_from_any_replica(replicas):
    a, b = replicas.a.base, replicas.b.base
    code, s = _call(a, "POST", "/api/sessions", {"title": "Course", "spec": spec()})
    assert code == 201
    code, run = _call(b, "POST", f"/api/sessions/{s['id']}/runs", spec(), token=s["edit_token"])
    assert code == 201
    replicas.a.api.wait_status(run["id"], "finished", timeout=60)
    code, shared = _call(b, "GET", f"/api/shared/{s['share_token']}")
    assert code == 200 and shared["title"] == "Course" and [r["id"] for r in shared["runs"]] == [run["id"]]
    code, fork = _call(a, "POST", f"/api/shared/{s['share_token']}/fork", {"title": "Mine"})
    assert code == 201
    code, mine = _call(b, "GET", f"/api/sessions/{fork['id']}", token=fork["edit_token"])
    assert code == 200 and mine["title"] == "Mine" and len(mine["runs"]) == 1
    assert mine["runs"][0]["history"] == replicas.b.api.run(run["id"])["history"]
    # Another session's token is a 404, as for an unknown id: no oracle on session ids (docs/security.md).
    assert _call(b, "PATCH", f"/api/sessions/{s['id']}", {"notes": "x"}, token=fork["edit_token"])[0] == 404


def test_an_upload_on_postgres_trains_on_ray_from_the_other_replica_and_forks_share_it(replicas, postgres):
    """PostgreSQL gets an upload's stored table as one bytea (SQLite is filled through blob I/O):
    it must read back whole on another replica and on the Ray trainer, and a fork must share it."""
    from sessions_kit import flowers

    a, b = replicas.a.base, replicas.b.base
    code, s = _call(a, "POST", "/api/sessions", {"title": "Flowers"})
    assert code == 201
    req = urllib.request.Request(f"{a}/api/sessions/{s['id']}/uploads?filename=flowers.csv", data=flowers().encode(),
                                 headers={"content-type": "text/csv", "authorization": f"Bearer {s['edit_token']}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        up = json.loads(r.read())
    assert up["n_rows"] == 150 and up["classes"] == ["setosa", "versicolor", "virginica"]
    trained = spec({"data": up["data"], "model": {"layers": [{"type": "dense", "units": 8}]},
                    "training": {"epochs": 30, "lr": 0.05}})
    code, run = _call(b, "POST", f"/api/sessions/{s['id']}/runs", trained, token=s["edit_token"])
    assert code == 201, run
    done = replicas.a.api.wait_status(run["id"], "finished", timeout=90)
    assert len(done["history"]["epoch"]) == 30 and max(done["history"]["val_acc"]) > 0.9  # separable species
    code, fork = _call(b, "POST", f"/api/shared/{s['share_token']}/fork", {"title": "Mine"})
    assert code == 201
    code, mine = _call(a, "GET", f"/api/sessions/{fork['id']}", token=fork["edit_token"])
    assert code == 200 and mine["uploads"][0]["n_rows"] == 150
    from sqlalchemy import create_engine, text

    engine = create_engine(replicas.url)
    try:
        with engine.connect() as conn:
            blobs = conn.execute(text("SELECT u.blob FROM uploads u WHERE u.session_id IN (:x, :y)"),
                                 {"x": s["id"], "y": fork["id"]}).scalars().all()
            assert len(blobs) == 2 and len(set(blobs)) == 1  # one stored table, named by both
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def lb(replicas) -> Iterator[Nginx]:
    """Debian's nginx on the config docker-compose.yml ships, in front of both replicas."""
    why = nginx_available()
    if why:
        pytest.skip(why)
    n = Nginx([f"127.0.0.1:{p.port}" for p in (replicas.a, replicas.b)])
    yield n
    n.close()


def test_a_run_is_watched_through_the_load_balancer_and_steered_through_each_replica(replicas, lb):
    """The browser's path in the compose cluster: REST and the websocket through nginx, round robin."""
    by_addr = {f"127.0.0.1:{p.port}": p for p in (replicas.a, replicas.b)}
    via = http_api(lb.base)
    run_id = via.create(spec({"training": {"epochs": 5000}}))["id"]
    (post,) = wait_for(lambda: [addr for method, _, _, addr in lb.upstreams() if method == "POST"],
                       what="nginx to log the POST")
    maker = by_addr[post]
    other = next(p for p in by_addr.values() if p is not maker)
    watch = Stream(lb.ws_base, run_id)  # the next in nginx's round robin: the other replica
    watch.until(lambda m: m["type"] == "metrics" and m["epoch"][-1] >= 3)
    # pause and resume through the replica that did not start it; the websocket through nginx hears both
    other.api.control(run_id, {"action": "pause"})
    watch.until(lambda m: m["type"] == "status" and m["status"] == "paused")
    other.api.control(run_id, {"action": "resume"})
    watch.until(lambda m: m["type"] == "status" and m["status"] == "running")
    # a frame sent up the websocket through nginx steers it too; the replica that started it resumes it
    watch.send({"action": "pause"})
    watch.until(lambda m: m["type"] == "status" and m["status"] == "paused")
    maker.api.control(run_id, {"action": "resume"})
    watch.until(lambda m: m["type"] == "metrics" and m["epoch"][-1] >= 10)
    other.api.control(run_id, {"action": "stop"})
    end = watch.until_end(timeout=60)
    assert end["status"] == "stopped" and 10 <= end["epochs"] < 5000
    assert watch.statuses()[-5:] == ["paused", "running", "paused", "running", "stopped"]
    got = via.wait_status(run_id, "stopped")
    assert watch.history() == got["history"] == maker.api.run(run_id)["history"] == other.api.run(run_id)["history"]
    watch.close()
    (ws,) = wait_for(lambda: [(status, addr) for _, path, status, addr in lb.upstreams() if path.endswith("/stream")],
                     what="nginx to log the websocket")
    assert ws[0] == "101" and ws[1] in by_addr  # upgraded by a replica, passed through by nginx
    assert ws[1] != post  # started through nginx on one replica, streamed through nginx from the other
    assert {addr for _, _, _, addr in lb.upstreams()} == set(by_addr)  # round robin reached both replicas


def test_a_run_started_on_a_is_steered_from_both_and_outlives_a(replicas):
    a, b = replicas.a, replicas.b
    run_id = a.api.create(spec(RUN))["id"]
    watch = b.stream(run_id)
    watch.until(lambda m: m["type"] == "metrics" and m["epoch"][-1] >= 3)
    # pause from B, over B's websocket; A sees it
    watch.send({"action": "pause"})
    a.api.wait_status(run_id, "paused")
    settled = len(b.api.wait_settled(run_id)["history"]["epoch"])
    # step from A: exactly one more epoch, seen through B, still paused
    assert a.api.control(run_id, {"action": "step"})["status"] == "paused"
    wait_for(lambda: len(b.api.run(run_id)["history"]["epoch"]) == settled + 1, what="the stepped epoch on B")
    assert len(b.api.wait_settled(run_id)["history"]["epoch"]) == settled + 1
    assert b.api.run(run_id)["status"] == a.api.run(run_id)["status"] == "paused"
    # lr from B reaches the trainer; resume from A; then A dies
    b.api.control(run_id, {"action": "set", "lr": 0.05})
    a.api.control(run_id, {"action": "resume"})
    watch.until(lambda m: m["type"] == "metrics" and 0.05 in m["lr"])
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    end = watch.until_end(timeout=120)
    assert end["status"] == "finished" and end["epochs"] == 1500
    got = b.api.run(run_id)
    assert watch.history() == got["history"] and len(got["history"]["epoch"]) == 1500
    assert watch.statuses()[-3:] == ["paused", "running", "finished"]
    assert got["has_weights"]
    # a late viewer on B gets the whole run replayed
    late = b.stream(run_id)
    assert late.until_end()["status"] == "finished" and late.history() == got["history"]
    watch.close()
    late.close()


def test_a_killed_trainer_fails_its_run_and_the_cluster_carries_on(replicas, postgres):
    b = replicas.b
    run_id = b.api.create(spec({"training": {"epochs": 5000}}))["id"]
    b.api.wait_epochs(run_id, 5)
    b.api.wait_status(run_id, "running")
    where = ray.get(replicas.pool().where.remote(run_id))
    assert where["state"] == "running"
    os.kill(ray.get(where["worker"].pid.remote()), signal.SIGKILL)
    failed = b.api.wait_status(run_id, "failed", timeout=60)
    assert "Ray worker" in failed["error"] and failed["history"]["epoch"]
    # the row says the same (the history it last flushed, and why)
    status, error, _ = _row(replicas.url, run_id)
    assert status == "failed" and "Ray worker" in error
    # a second run finishes on the trainer the pool starts in its place, through a brief PostgreSQL restart
    second = b.api.create(spec({"training": {"epochs": 600}}))["id"]
    b.api.wait_epochs(second, 5, timeout=120)  # the pool's only CPU trainer is new: it imported torch first
    postgres.restart(down_seconds=1.0)
    done = b.api.wait_status(second, "finished", timeout=120)
    assert len(done["history"]["epoch"]) == 600
    status, _, history = _row(replicas.url, second)
    assert status == "finished" and len(history["epoch"]) == 600  # written after the restart, not lost

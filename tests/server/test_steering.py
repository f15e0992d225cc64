"""Steering a run: pause, resume, step (exactly one epoch while paused), stop and set lr,
through POST /api/runs/{id}/control in-process and through websocket frames on a real uvicorn."""

from __future__ import annotations

from typing import Any, Callable

from fastapi.testclient import TestClient

from serverkit import LONG, Api, LiveServer, api_for, spec, wait_for


def test_pause_step_resume_stop_over_rest(api: Api) -> None:
    run_id = api.create(spec(LONG))["id"]
    api.wait_epochs(run_id, 5)
    assert api.control(run_id, {"action": "pause"}) == {"status": "paused"}
    assert api.control(run_id, {"action": "pause"}) == {"status": "paused"}  # idempotent
    n = len(api.wait_settled(run_id)["history"]["epoch"])  # the epoch in flight lands, then nothing
    for k in (1, 2):
        assert api.control(run_id, {"action": "step"}) == {"status": "paused"}
        run = api.wait_settled(run_id)
        assert run["history"]["epoch"] == list(range(1, n + k + 1)) and run["status"] == "paused"
    assert api.control(run_id, {"action": "resume"}) == {"status": "running"}
    api.wait_epochs(run_id, n + 20)
    assert api.control(run_id, {"action": "stop"})["status"] in ("running", "stopped")
    run = api.wait_status(run_id, "stopped")
    assert run["error"] is None and len(run["history"]["epoch"]) < 5000
    assert api.control(run_id, {"action": "resume"}, status=409)["detail"]


def test_step_on_a_running_run_pauses_it(api: Api) -> None:
    run_id = api.create(spec(LONG))["id"]
    api.wait_epochs(run_id, 3)
    api.control(run_id, {"action": "step"})
    api.wait_status(run_id, "paused")
    n = len(api.wait_settled(run_id)["history"]["epoch"])
    api.control(run_id, {"action": "stop"})
    assert len(api.wait_status(run_id, "stopped")["history"]["epoch"]) == n  # stopping trains nothing more


def test_a_run_paused_while_queued_starts_paused_and_steps_one_epoch_at_a_time(
        make_client: Callable[..., TestClient]) -> None:
    c = make_client(max_concurrent_runs=1)
    api = api_for(c)
    blocker = api.create(spec(LONG))["id"]
    run_id = api.create(spec(LONG))["id"]
    assert api.control(run_id, {"action": "pause"}) == {"status": "queued"}
    api.control(blocker, {"action": "stop"})
    assert api.wait_status(run_id, "paused")["history"]["epoch"] == []
    for k in (1, 2, 3):
        api.control(run_id, {"action": "step"})
        wait_for(lambda: len(api.run(run_id)["history"]["epoch"]) >= k, what=f"epoch {k}")
    assert api.wait_settled(run_id)["history"]["epoch"] == [1, 2, 3]
    api.control(run_id, {"action": "stop"})
    run = api.wait_status(run_id, "stopped")
    assert run["history"]["epoch"] == [1, 2, 3]
    wait_for(lambda: c.get("/api/health").json()["runs"] == {"active": 0, "queued": 0}, what="the slot back")
    assert api.wait_status(api.create(spec())["id"], "finished")["history"]["epoch"] == [1, 2, 3, 4, 5]


def test_set_lr_mid_run_shows_in_the_lr_column(api: Api) -> None:
    run_id = api.create(spec(LONG))["id"]
    api.wait_epochs(run_id, 5)
    assert api.control(run_id, {"action": "set", "lr": 0.025, "l2": 0.001}) == {"status": "running"}
    lr = wait_for(lambda: (h := api.run(run_id)["history"]["lr"]) and h[-1] == 0.025 and h, what="the new lr")
    api.control(run_id, {"action": "stop"})
    k = lr.index(0.025)
    assert k >= 5 and set(lr[:k]) == {0.1} and set(lr[k:]) == {0.025}
    assert set(api.wait_status(run_id, "stopped")["history"]["lr"][k:]) == {0.025}


def test_set_lr_while_paused_takes_effect_on_the_next_step(api: Api) -> None:
    run_id = api.create(spec(LONG))["id"]
    api.wait_epochs(run_id, 2)
    api.control(run_id, {"action": "pause"})
    n = len(api.wait_settled(run_id)["history"]["epoch"])
    api.control(run_id, {"action": "set", "lr": 0.5})
    api.control(run_id, {"action": "step"})
    run = api.wait_settled(run_id)
    api.control(run_id, {"action": "stop"})
    assert run["history"]["lr"] == [0.1] * n + [0.5]


# -- the same over websocket frames, on a real uvicorn -------------------------------------------------------
def _status(msg: dict[str, Any], status: str) -> bool:
    return msg["type"] == "status" and msg["status"] == status


def test_controls_over_websocket_frames(live: LiveServer) -> None:
    api = live.api
    run_id = api.create(spec(LONG))["id"]
    s = live.stream(run_id)
    try:
        s.until(lambda m: m["type"] == "metrics" and m["epoch"][-1] >= 5)
        s.send({"action": "pause"})
        s.until(lambda m: _status(m, "paused"))
        n = len(api.wait_settled(run_id)["history"]["epoch"])
        s.send({"action": "step"})
        wait_for(lambda: len(api.run(run_id)["history"]["epoch"]) > n, what="the stepped epoch")
        assert len(api.wait_settled(run_id)["history"]["epoch"]) == n + 1
        s.until(lambda m: m["type"] == "metrics" and m["epoch"][-1] == n + 1)
        s.send({"action": "set", "lr": 0.02})
        s.send({"action": "resume"})
        s.until(lambda m: _status(m, "running"))
        s.until(lambda m: m["type"] == "metrics" and m["lr"][-1] == 0.02)
        s.send({"action": "stop"})
        end = s.until_end()
        assert end["status"] == "stopped"
        history = s.history()
        assert history == api.run(run_id)["history"]
        assert history["epoch"] == list(range(1, len(history["epoch"]) + 1))
        assert history["lr"][: n + 1] == [0.1] * (n + 1) and history["lr"][-1] == 0.02
        assert s.statuses()[:3] == ["running", "paused", "running"] and s.statuses()[-1] == "stopped"
        assert not [m for m in s.messages if m["type"] == "error"]
    finally:
        s.close()


def test_a_control_frame_that_is_not_allowed_now_gets_an_error(make_live: Callable[..., LiveServer]) -> None:
    live = make_live(max_concurrent_runs=1)
    blocker = live.api.create(spec(LONG))["id"]
    run_id = live.api.create(spec())["id"]
    s = live.stream(run_id)
    try:
        assert s.recv() == {"type": "status", "status": "queued"}
        s.send({"action": "resume"})
        err = s.until_type("error")
        assert "queued" in err["message"]
        live.api.control(blocker, {"action": "stop"})
        assert s.until_end()["status"] == "finished"
        assert s.history()["epoch"] == [1, 2, 3, 4, 5]
    finally:
        s.close()

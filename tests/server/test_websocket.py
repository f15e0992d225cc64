"""The websocket stream on a real uvicorn: replay then live, typed messages, coalescing that never
drops a metric, reconnecting halfway, clients that leave, and malformed frames."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.protocol import ServerMessage
from serverkit import LONG, Api, LiveServer, Stream, history_of, spec, wait_for

SERVER_MESSAGE = TypeAdapter(ServerMessage)
MEDIUM = {"training": {"epochs": 400}}  # about a second: long enough for several batches


def test_a_whole_run_streamed_equals_its_history(live: LiveServer) -> None:
    run_id = live.api.create(spec(MEDIUM))["id"]
    s = live.stream(run_id)
    arrivals: list[float] = []
    try:
        while True:
            m = s.recv()
            if m["type"] == "metrics":
                arrivals.append(time.monotonic())
            if m["type"] == "end":
                break
        with pytest.raises(ConnectionClosed):  # the server closes the stream after `end`
            s.recv(timeout=5)
    finally:
        s.close()
    for m in s.messages:
        SERVER_MESSAGE.validate_python(m)  # every message is one of the typed union
    run = live.api.run(run_id)
    assert run["status"] == "finished"
    assert s.history() == run["history"]
    assert s.history()["epoch"] == list(range(1, 401))
    assert s.statuses()[-1] == "finished" and s.messages[-1]["status"] == "finished"
    assert s.messages[-1]["epochs"] == 400 and s.messages[-1]["best_epoch"] == run["best_epoch"]
    kinds = {m["type"] for m in s.messages}
    assert {"status", "metrics", "diagnosis", "snapshot", "end"} <= kinds
    assert {m["kind"] for m in s.messages if m["type"] == "snapshot"} == {"boundary", "confusion", "weights", "insides"}
    # coalesced: fewer batches than epochs, about 50 ms apart (however slow the machine is today)
    assert len(arrivals) < 400
    gaps = sorted(b - a for a, b in zip(arrivals, arrivals[1:]))
    assert gaps and gaps[len(gaps) // 2] >= 0.035, gaps


def test_reconnecting_halfway_replays_the_full_history(live: LiveServer) -> None:
    run_id = live.api.create(spec({"training": {"epochs": 1000}}))["id"]
    first = live.stream(run_id)
    first.until(lambda m: m["type"] == "metrics" and m["epoch"][-1] >= 50)
    first.close()  # the client leaves; the run goes on without anyone watching
    seen = len(first.history()["epoch"])
    wait_for(lambda: len(live.api.run(run_id)["history"]["epoch"]) > seen + 20, what="training without a client")
    second = live.stream(run_id)
    try:
        replay = second.recv()
        assert replay == {"type": "status", "status": "running"}
        batch = second.recv()
        assert batch["type"] == "metrics" and batch["epoch"][0] == 1 and len(batch["epoch"]) > seen
        second.until_end()
    finally:
        second.close()
    history = live.api.run(run_id)["history"]
    assert live.api.run(run_id)["status"] == "finished"
    assert second.history() == history
    a = first.history()
    assert {k: v[: len(a["epoch"])] for k, v in history.items()} == a  # the first client saw a prefix
    assert history["epoch"] == list(range(1, 1001))  # every epoch once, in order


def test_many_viewers_see_the_same_run(live: LiveServer) -> None:
    run_id = live.api.create(spec(MEDIUM))["id"]
    streams = [live.stream(run_id) for _ in range(6)]
    try:
        ends = [s.until_end() for s in streams]
    finally:
        for s in streams:
            s.close()
    history = live.api.run(run_id)["history"]
    assert all(s.history() == history for s in streams)
    assert all(e["status"] == "finished" for e in ends)


def test_a_finished_run_replays_and_closes(live: LiveServer) -> None:
    run_id = live.api.create(spec())["id"]
    live.api.wait_status(run_id, "finished")
    s = live.stream(run_id)
    try:
        s.until_end(timeout=5)
        types = [m["type"] for m in s.messages]
        assert types[:2] == ["status", "metrics"] and types[-1] == "end"
        assert set(types[2:-1]) == {"diagnosis", "snapshot"}
        assert s.history() == live.api.run(run_id)["history"]
        with pytest.raises(ConnectionClosed):
            s.recv(timeout=5)
        assert s.ws.close_code == 1000
    finally:
        s.close()


def test_an_unknown_run_closes_the_socket(live: LiveServer) -> None:
    """Closed before the handshake completes: the client sees the HTTP refusal (403)."""
    with pytest.raises(InvalidStatus) as info:
        Stream(live.ws_base, "nope")
    assert info.value.response.status_code == 403
    assert live.api.run(live.api.create(spec())["id"])  # and the server carries on


def test_in_process_replay_through_testclient(client: TestClient, api: Api) -> None:
    run_id = api.create(spec())["id"]
    api.wait_status(run_id, "finished")
    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        msgs: list[dict[str, Any]] = []
        while not msgs or msgs[-1]["type"] != "end":
            msgs.append(ws.receive_json())
    assert history_of(msgs) == api.run(run_id)["history"]


# -- malformed frames -------------------------------------------------------------------------------------
BAD_FRAMES = [
    ("not json", "{pause", None),
    ("not an object", "[1, 2]", None),
    ("unknown action", '{"action": "fly"}', None),
    ("no action", '{"lr": 0.1}', None),
    ("wrong type", '{"action": "set", "lr": "fast"}', "lr"),
    ("out of range", '{"action": "set", "lr": -1}', "lr"),
    ("nan lr", '{"action": "set", "lr": NaN}', "lr"),
    ("extra field", '{"action": "pause", "now": true}', "now"),
    ("pick out of range", '{"action": "pick", "index": 16}', "index"),
    ("pick not a number", '{"action": "pick", "index": "two"}', "index"),
    ("too large", json.dumps({"action": "set", "lr": 0.1, "pad": "x" * 5000}), None),
    ("binary", b"\x00\x01\x02", None),
    ("binary json", b'{"action": "pause"}', None),
]


def test_malformed_frames_get_errors_and_the_socket_stays_open(live: LiveServer) -> None:
    run_id = live.api.create(spec(LONG))["id"]
    s = live.stream(run_id)
    try:
        s.until_type("metrics")
        for name, frame, path in BAD_FRAMES:
            s.send(frame)
            err = s.until_type("error", timeout=5)
            assert err["message"], name
            if path:
                assert err["path"] == path, (name, err)
            if name == "too large":
                assert "4096 bytes" in err["message"]
        assert live.api.run(run_id)["status"] == "running"  # none of them did anything
        s.send({"action": "pause"})  # and a valid frame still works
        s.until(lambda m: m["type"] == "status" and m["status"] == "paused")
        s.send({"action": "stop"})
        assert s.until_end()["status"] == "stopped"
    finally:
        s.close()
    assert len([m for m in s.messages if m["type"] == "error"]) == len(BAD_FRAMES)
    assert s.history() == live.api.run(run_id)["history"]


def test_a_client_that_leaves_does_not_stop_its_run(live: LiveServer) -> None:
    run_id = live.api.create(spec(MEDIUM))["id"]
    for _ in range(3):
        s = live.stream(run_id)
        s.until_type("metrics")
        s.ws.socket.close()  # gone without a close frame
    run = live.api.wait_status(run_id, "finished", "stopped", "failed")
    assert run["status"] == "finished" and run["history"]["epoch"][-1] == 400
    wait_for(lambda: not live.manager.runs[run_id].subscribers, 5, what="every handler to let go")

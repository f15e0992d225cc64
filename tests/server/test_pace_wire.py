"""Slow motion over the wire (issue 13): a run paced from its start (`?pace=`), a pace changed over
the websocket and over REST, and bad paces answered with a clear error (an error frame on the
socket, 422 with its path over REST), the run untouched."""

from __future__ import annotations

import time

from serverkit import LONG, LiveServer, spec, wait_for

PACE = 8.0  # epochs a second


def test_a_run_paced_from_its_start_then_set_to_full_speed(live: LiveServer) -> None:
    run_id = live.api.create(spec(LONG), pace=PACE)["id"]
    s = live.stream(run_id)
    try:
        s.until_type("metrics")
        start = time.monotonic()
        time.sleep(1.5)
        n = len(live.api.run(run_id)["history"]["epoch"])
        elapsed = time.monotonic() - start
        # The first epochs are slow too: the pace came with the start, not after the socket opened.
        assert 1 <= n <= PACE * elapsed + 2, n
        s.send({"action": "pace", "epochs_per_s": None})  # full speed from now on
        wait_for(lambda: len(live.api.run(run_id)["history"]["epoch"]) > n + 100, 10, what="full speed again")
        s.send({"action": "pace", "epochs_per_s": 0.5})
        time.sleep(0.3)  # the epoch in flight lands, then one every 2 s
        n = len(live.api.run(run_id)["history"]["epoch"])
        time.sleep(1.0)
        assert len(live.api.run(run_id)["history"]["epoch"]) <= n + 1
        asked = time.monotonic()
        s.send({"action": "stop"})  # a paced run that waits still stops at once
        assert s.until_end()["status"] == "stopped"
        assert time.monotonic() - asked < 1.0
    finally:
        s.close()


BAD_PACES = [
    ({"action": "pace", "epochs_per_s": 0}, "epochs_per_s", "greater than or equal to 0.1"),
    ({"action": "pace", "epochs_per_s": -3}, "epochs_per_s", "greater than or equal to 0.1"),
    ({"action": "pace", "epochs_per_s": 1e6}, "epochs_per_s", "less than or equal to 1000"),
    ({"action": "pace", "epochs_per_s": "slow"}, "epochs_per_s", "valid number"),
    ({"action": "pace"}, "epochs_per_s", "required"),
    ({"action": "pace", "epochs_per_s": 2, "fps": 2}, "fps", "not permitted"),
]


def test_bad_paces_get_error_frames_and_change_nothing(live: LiveServer) -> None:
    run_id = live.api.create(spec(LONG), pace=PACE)["id"]
    s = live.stream(run_id)
    try:
        s.until_type("metrics")
        for frame, path, words in BAD_PACES:
            s.send(frame)
            err = s.until_type("error", timeout=5)
            assert err["path"] == path and words in err["message"], (frame, err)
            assert err["message"].startswith("bad control frame"), err
        assert live.manager.runs[run_id].control.pace == PACE  # none of them changed the pace
        assert live.api.run(run_id)["status"] == "running"
        s.send({"action": "stop"})
        s.until_end()
    finally:
        s.close()


def test_pace_over_rest_and_in_the_start_query(live: LiveServer) -> None:
    for bad in (0, -1, 5000, "fast"):
        live.api.create(spec(LONG), status=422, pace=bad)
    run_id = live.api.create(spec(LONG))["id"]
    assert live.api.control(run_id, {"action": "pace", "epochs_per_s": 2})["status"] in ("queued", "running")
    assert live.manager.runs[run_id].control.pace == 2
    live.api.control(run_id, {"action": "pace", "epochs_per_s": 0}, status=422)
    live.api.control(run_id, {"action": "stop"})
    live.api.wait_status(run_id, "stopped")
    live.api.control(run_id, {"action": "pace", "epochs_per_s": 2}, status=409)  # an ended run

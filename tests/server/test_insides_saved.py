"""The `insides` view travels like every snapshot: live on the websocket, stored with the run, in
the session's answer and in a fork of its share link, and `diagnosis` messages carry cause and evidence."""

from __future__ import annotations

from serverkit import spec


def test_a_session_run_keeps_its_insides_and_its_cause(sapi):
    s = sapi.create()
    run = sapi.run(s, spec({"training": {"epochs": 20}}))
    sapi.wait_saved(s, run["id"])
    state = sapi.run_state(run["id"])
    ins = state["snapshots"]["insides"]
    assert ins["epoch"] == 20 and ins["epochs"][0] == 1 and ins["epochs"][-1] == 20
    assert [l["name"] for l in ins["layers"]] == ["dense 1", "output"]
    layer = ins["layers"][0]
    assert len(layer["grad_norm"]) == len(ins["epochs"]) and layer["saturated"][-1] is not None
    assert len(layer["hist"]["weights"][0]["counts"]) == 24
    d = state["diagnosis"]
    assert {"cause", "evidence", "also"} <= set(d) and d["verdict"] != "too_early"
    saved = next(r for r in sapi.get(s)["runs"] if r["id"] == run["id"])
    assert saved["snapshots"]["insides"]["epochs"] == ins["epochs"]
    fork = sapi.fork(s)
    copied = sapi.get(fork, fork["edit_token"])["runs"][0]
    assert copied["snapshots"]["insides"]["layers"][0]["grad_norm"] == layer["grad_norm"]

"""Sessions over the real API on a real SQLite file and a real PostgreSQL: tokens, read-only share
links, fork, lookup, delete, and the runs saved with a session (history, diagnosis, weights)."""

from __future__ import annotations

import base64
import json

import pytest
import torch
from safetensors.torch import load as load_safetensors

from engine.model import build_model
from engine.shapes import infer
from engine.spec import parse_spec
from server.session_routes import NO_SESSION
from serverkit import LONG, spec, strict_json, wait_for
from sessions_kit import SessionsApi, bearer, db_count, db_rows

pytestmark = pytest.mark.databases

def _bits(token: str) -> int:
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8


def test_tokens_have_at_least_128_bits_and_all_differ(sapi, client):
    made = [sapi.create(f"s{i}") for i in range(20)]
    values = []
    for s in made:
        assert _bits(s["edit_token"]) >= 128 and _bits(s["share_token"]) >= 128
        assert len(bytes.fromhex(s["id"])) * 8 >= 128
        assert s["share_url"] == f"http://testserver/s/{s['share_token']}"
        values += [s["id"], s["edit_token"], s["share_token"]]
    assert len(set(values)) == len(values)
    assert client.get(made[0]["share_url"].removeprefix("http://testserver")).status_code == 200


def test_share_url_uses_the_public_url_when_set(make_client):
    s = SessionsApi(make_client(public_url="https://lab.example.org/")).create()
    assert s["share_url"] == f"https://lab.example.org/s/{s['share_token']}"


def test_only_a_hash_of_the_edit_token_is_stored(sapi, tmp_path, database_url):
    s = sapi.create()
    (row,) = db_rows(database_url, "sessions")
    assert row["share_token"] == s["share_token"] and len(row["edit_token_hash"]) == 64
    assert s["edit_token"] not in repr(row)
    if database_url.startswith("sqlite"):  # nor anywhere in the file, its free pages included
        raw = (tmp_path / "layerlab.db").read_bytes() + b"".join(
            p.read_bytes() for p in tmp_path.glob("layerlab.db-wal"))
        assert s["edit_token"].encode() not in raw


def test_get_returns_the_saved_session(sapi):
    body = spec({"training": {"epochs": 7}})
    s = sapi.create("Spirals", body, notes="try tanh")
    got = sapi.get(s)
    assert got["id"] == s["id"] and got["title"] == "Spirals" and got["notes"] == "try tanh"
    assert got["spec"] == parse_spec(body).to_json()
    assert got["runs"] == [] and got["uploads"] == [] and got["read_only"] is False
    assert got["share_token"] == s["share_token"] and "edit_token" not in got
    assert got["updated_at"] >= got["created_at"] > 0


def test_a_session_needs_no_spec_and_an_invalid_one_is_refused(sapi, client):
    r = client.post("/api/sessions", json={"title": "empty"})
    assert r.status_code == 201
    assert sapi.get(strict_json(r.text))["spec"] is None
    r = client.post("/api/sessions", json={"title": "bad", "spec": spec({"model": {"layers": [{"type": "dense", "units": 0}]}})})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "model.layers[0].units"


WRITES = [
    ("patch", "", {"title": "hacked"}),
    ("delete", "", None),
    ("post", "/runs", spec()),
    ("post", "/uploads", None),
]


@pytest.mark.parametrize("method,suffix,body", WRITES + [("get", "", None), ("get", "/uploads/x", None)])
def test_a_share_token_gets_403_a_wrong_token_404_and_no_token_401(sapi, client, method, suffix, body):
    s = sapi.create("Mine")
    other = sapi.create("Other")
    url = f"/api/sessions/{s['id']}{suffix}"
    missing = f"/api/sessions/{'0' * 32}{suffix}"
    kwargs = {"json": body} if body is not None else {}
    r = client.request(method.upper(), url, headers=bearer(s["share_token"]), **kwargs)
    assert r.status_code == 403 and "read-only" in r.json()["detail"], r.text
    # A token that does not open the session answers as if there were no session: an id alone
    # tells nobody whether it exists (docs/security.md).
    for token in (other["edit_token"], s["edit_token"][:-1] + "x", "nonsense"):
        for target in (url, missing):
            r = client.request(method.upper(), target, headers=bearer(token), **kwargs)
            assert r.status_code == 404 and r.json()["detail"] == NO_SESSION, (token, target, r.text)
    for target in (url, missing):
        r = client.request(method.upper(), target, **kwargs)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json() == client.request(method.upper(), missing, **kwargs).json()
    got = sapi.get(s)
    assert got["title"] == "Mine" and got["runs"] == [] and got["uploads"] == []


def test_unknown_sessions_and_share_tokens_are_404(sapi, client):
    s = sapi.create()
    assert client.get("/api/sessions/" + "0" * 32, headers=bearer(s["edit_token"])).status_code == 404
    assert client.get("/api/shared/" + "A" * 43).status_code == 404
    assert client.get("/api/shared/x").status_code == 404
    assert client.post("/api/shared/" + "A" * 43 + "/fork").status_code == 404


def test_sessions_cannot_be_listed(client):
    assert client.get("/api/sessions").status_code in (404, 405)


def test_patch_changes_only_what_it_names(sapi):
    s = sapi.create("Before", notes="n1")
    before = sapi.get(s)
    out = sapi.patch(s, {"notes": "n2"})
    assert out["title"] == "Before" and out["notes"] == "n2" and out["id"] == s["id"]
    assert out["updated_at"] >= before["updated_at"]
    new_spec = spec({"model": {"layers": [{"type": "dense", "units": 3, "activation": "relu"}]}})
    sapi.patch(s, {"title": "After", "spec": new_spec})
    got = sapi.get(s)
    assert (got["title"], got["notes"]) == ("After", "n2")
    assert got["spec"]["model"]["layers"][0]["units"] == 3
    sapi.patch(s, {"spec": None})
    assert sapi.get(s)["spec"] is None


def test_patch_validates_the_spec_with_paths_but_saves_a_stack_still_being_built(sapi):
    s = sapi.create()
    err = sapi.patch(s, {"spec": spec({"model": {"layers": [{"type": "dense", "units": 8, "activation": "nope"}]}})},
                     status=422)
    assert err["errors"][0]["path"] == "model.layers[0].activation"
    err = sapi.patch(s, {"title": "x" * 201}, status=422)
    assert err["errors"][0]["path"] == "title"
    assert sapi.get(s)["title"] == "My session"
    # A conv2d on 2-D points does not fit (a shape error): saving it is fine, training it is not.
    wip = spec({"model": {"layers": [{"type": "conv2d"}]}})
    sapi.patch(s, {"spec": wip})
    assert sapi.get(s)["spec"]["model"]["layers"][0]["type"] == "conv2d"
    err = sapi.run(s, wip, status=422)
    assert err["errors"][0]["path"] == "model.layers[0]"


def test_runs_are_saved_with_the_session(sapi):
    s = sapi.create()
    before = sapi.get(s)["updated_at"]
    a = sapi.run(s, label="baseline")
    b = sapi.run(s, spec({"training": {"lr": 0.3}}), label="lr 0.3", parent=a["id"])
    assert a["status"] in ("queued", "running") and a["summary"]["total_params"] > 0
    for r in (a, b):
        sapi.wait_saved(s, r["id"])
    got = sapi.get(s)
    assert got["updated_at"] >= before
    runs = {r["id"]: r for r in got["runs"]}
    assert [r["id"] for r in got["runs"]] == [a["id"], b["id"]]  # oldest first
    assert runs[a["id"]]["label"] == "baseline" and runs[b["id"]]["parent"] == a["id"]
    for r in runs.values():
        assert r["status"] == "finished" and r["session_id"] == s["id"]
        assert r["history"]["epoch"] == [1, 2, 3, 4, 5]
        assert r["diagnosis"]["verdict"] and r["spec"]["training"]["epochs"] == 5
        public = sapi.run_state(r["id"])  # the same view as GET /api/runs/{id}, less the session's id
        assert "session_id" not in public and public["in_session"] is True
        assert {k: v for k, v in r.items() if k != "session_id"} == public
    assert runs[b["id"]]["spec"]["training"]["lr"] == 0.3


def test_the_share_link_reads_everything_but_the_edit_token(sapi):
    s = sapi.create("Shared", notes="read me")
    run = sapi.run(s)
    sapi.wait_saved(s, run["id"])
    shared = sapi.shared(s)
    text = json.dumps(shared)
    assert s["edit_token"] not in text and s["id"] not in text
    assert shared["read_only"] is True and "id" not in shared
    assert (shared["title"], shared["notes"]) == ("Shared", "read me")
    mine = sapi.get(s)
    assert shared["spec"] == mine["spec"]
    assert [r["history"] for r in shared["runs"]] == [r["history"] for r in mine["runs"]]
    assert shared["runs"][0]["diagnosis"] == mine["runs"][0]["diagnosis"]


def test_a_fork_is_an_independent_editable_copy_with_runs_and_weights(sapi, client):
    s = sapi.create("Original", spec({"training": {"epochs": 6}}), notes="notes")
    run = sapi.run(s, spec({"model": {"layers": [{"type": "dense", "units": 8}, {"type": "dropout", "p": 0.2}]}}),
                   label="first")
    child = sapi.run(s, label="second", parent=run["id"])
    for r in (run, child):
        sapi.wait_saved(s, r["id"])
    original = sapi.get(s)
    f = sapi.fork(s)
    assert len({f["id"], s["id"]}) == 2 and f["edit_token"] != s["edit_token"] and f["share_token"] != s["share_token"]
    copy = sapi.get(f)
    assert (copy["title"], copy["notes"], copy["spec"]) == ("Original", "notes", original["spec"])
    assert [r["label"] for r in copy["runs"]] == ["first", "second"]
    for mine, theirs in zip(copy["runs"], original["runs"]):
        assert mine["id"] != theirs["id"] and mine["session_id"] == f["id"]
        for key in ("history", "diagnosis", "status", "spec", "summary", "best_epoch", "has_weights"):
            assert mine[key] == theirs[key], key
        for which in ("final", "best"):
            url = "/api/runs/{}/weights.safetensors?which=" + which
            assert client.get(url.format(mine["id"])).content == client.get(url.format(theirs["id"])).content
    assert copy["runs"][1]["parent"] == copy["runs"][0]["id"]  # the lineage points inside the copy
    # Editing the copy leaves the original alone, and neither token opens the other session.
    sapi.patch(f, {"title": "Mine now", "notes": "changed", "spec": spec({"training": {"epochs": 9}})})
    sapi.wait_saved(f, sapi.run(f)["id"])
    again = sapi.get(s)
    assert (again["title"], again["notes"], again["spec"]) == ("Original", "notes", original["spec"])
    assert len(again["runs"]) == 2 and len(sapi.get(f)["runs"]) == 3
    assert client.get(f"/api/sessions/{f['id']}", headers=bearer(s["edit_token"])).status_code == 404
    assert client.get(f"/api/sessions/{s['id']}", headers=bearer(f["edit_token"])).status_code == 404


def test_a_fork_can_take_a_new_title_and_copies_a_run_still_going(sapi, client):
    s = sapi.create("Going")
    run = sapi.run(s, spec(LONG))
    wait_for(lambda: len(sapi.run_state(run["id"])["history"]["epoch"]) >= 3, what="a few epochs")
    f = sapi.fork(s, {"title": "Copy"})
    copy = sapi.get(f)
    assert copy["title"] == "Copy"
    (r,) = copy["runs"]
    assert r["status"] == "stopped" and len(r["history"]["epoch"]) >= 1
    # A session's run is steered with the session's edit token (without it this stop is a 403, and the
    # run went on for its 5000 epochs).
    stop = client.post(f"/api/runs/{run['id']}/control", json={"action": "stop"}, headers=bearer(s["edit_token"]))
    assert stop.status_code == 200, stop.text
    assert sapi.wait_done(run["id"])["status"] == "stopped"


def test_lookup_returns_the_sessions_whose_token_matches(sapi, client):
    a, b, c = sapi.create("A"), sapi.create("B"), sapi.create("C")
    sapi.patch(a, {"notes": "touched last"})
    keys = [{"id": a["id"], "edit_token": a["edit_token"]}, {"id": b["id"], "edit_token": b["edit_token"]},
            {"id": c["id"], "edit_token": c["share_token"]}, {"id": "f" * 32, "edit_token": "x" * 43}]
    r = client.post("/api/sessions/lookup", json=keys)
    assert r.status_code == 200, r.text
    found = r.json()["sessions"]
    assert [x["title"] for x in found] == ["A", "B"]  # most recently changed first; C's key was wrong
    assert set(found[0]) == {"id", "title", "share_token", "share_url", "created_at", "updated_at", "n_runs"}
    assert "edit_token" not in json.dumps(found)
    assert client.post("/api/sessions/lookup", json=keys[:1] * 101).status_code == 422
    assert client.post("/api/sessions/lookup", json=[]).json() == {"sessions": []}


def test_delete_removes_the_session_its_runs_and_stops_a_live_one(sapi, client, database_url):
    db = database_url
    s = sapi.create()
    done = sapi.run(s)
    sapi.wait_saved(s, done["id"])
    live = sapi.run(s, spec(LONG))
    wait_for(lambda: sapi.run_state(live["id"])["status"] == "running", what="the long run to start")
    r = client.delete(f"/api/sessions/{s['id']}", headers=bearer(s["edit_token"]))
    assert r.status_code == 204
    assert client.get(f"/api/sessions/{s['id']}", headers=bearer(s["edit_token"])).status_code == 404
    assert client.get(f"/api/shared/{s['share_token']}").status_code == 404
    assert client.get(f"/api/runs/{done['id']}").status_code == 404
    assert client.get(f"/api/runs/{live['id']}").status_code == 404
    wait_for(lambda: client.app.state.manager.counts()["active"] == 0, what="the live run's worker to stop")
    time_to_flush = client.app.state.settings.flush_seconds
    wait_for(lambda: db_count(db, "runs") == 0, timeout=2 * time_to_flush + 2, what="no run rows")
    assert db_count(db, "sessions") == 0


def test_weights_and_spec_downloads_load_into_the_engine(sapi, client):
    body = spec({"model": {"layers": [{"type": "dense", "units": 6, "activation": "relu"},
                                      {"type": "batchnorm"}, {"type": "dropout", "p": 0.1}]}})
    s = sapi.create()
    run = sapi.run(s, body)
    sapi.wait_saved(s, run["id"])
    r = client.get(f"/api/runs/{run['id']}/spec.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    saved = parse_spec(r.text)
    assert saved.to_json() == parse_spec(body).to_json()
    model = build_model(saved, infer(saved))
    for which in ("final", "best"):
        r = client.get(f"/api/runs/{run['id']}/weights.safetensors", params={"which": which})
        assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
        state = load_safetensors(r.content)
        assert set(state) == set(model.state_dict())
        model.load_state_dict(state, strict=True)
    # The loaded model scores the run's last validation loss on the same data.
    from engine.datasets import build_split
    from engine.tasks import TASKS

    split = build_split(saved.data, saved.task)
    model.load_state_dict(load_safetensors(client.get(f"/api/runs/{run['id']}/weights.safetensors").content))
    model.eval()
    with torch.no_grad():
        val = TASKS.get(saved.task).make_loss()(model(split.x_val), split.y_val).item()
    assert val == pytest.approx(sapi.run_state(run["id"])["history"]["val_loss"][-1], abs=1e-5)
    assert client.get(f"/api/runs/{run['id']}/weights.safetensors", params={"which": "other"}).status_code == 422



def test_only_the_edit_token_steers_a_sessions_run(sapi, client):
    """Run ids are in the shared view; a share link still cannot pause or stop the owner's runs."""
    s = sapi.create()
    run = sapi.run(s, spec(LONG))
    url = f"/api/runs/{run['id']}/control"
    for headers in ({}, bearer(s["share_token"]), {"Authorization": "Basic abc"}):
        r = client.post(url, json={"action": "stop"}, headers=headers)
        assert r.status_code == 403 and "edit token" in r.json()["detail"]
    with client.websocket_connect(f"/api/runs/{run['id']}/stream",
                                  subprotocols=["layerlab", f"layerlab.token.{s['share_token']}"]) as ws:
        ws.send_text(json.dumps({"action": "stop"}))
        msg = wait_for(lambda: (m := json.loads(ws.receive_text()))["type"] == "error" and m, what="an error frame")
        assert "edit token" in msg["message"]
    assert sapi.run_state(run["id"])["status"] in ("queued", "running")
    r = client.post(url, json={"action": "pause"}, headers=bearer(s["edit_token"]))
    assert r.status_code == 200 and r.json()["status"] in ("paused", "queued")
    with client.websocket_connect(f"/api/runs/{run['id']}/stream",
                                  subprotocols=["layerlab", f"layerlab.token.{s['edit_token']}"]) as ws:
        assert ws.accepted_subprotocol == "layerlab"
        ws.send_text(json.dumps({"action": "stop"}))
        end = wait_for(lambda: (m := json.loads(ws.receive_text()))["type"] == "end" and m, what="the end")
        assert end["status"] == "stopped"
    # A run outside any session is steered as before, by anyone who has its id.
    free = client.post("/api/runs", json=spec(LONG)).json()
    assert client.post(f"/api/runs/{free['id']}/control", json={"action": "stop"}).status_code == 200

"""Issue 14 over HTTP, in-process: headers, hosts and origins, bodies that are not specs, the
linear digits model and non-finite floats at the API, and what a run's public view gives away."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from starlette.websockets import WebSocketDisconnect

from serverkit import BASE_SPEC, api_for, spec, strict_json
from sessions_kit import bearer

LINEAR_DIGITS = {"data": {"dataset": "digits", "n_samples": 200}, "model": {"layers": []},
                 "training": {"epochs": 2, "batch_size": 50, "device": "cpu"}}


# -- defect 7: security headers ------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/s/" + "A" * 43, "/api/health", "/static/js/main.js", "/api/runs/nope",
                                  "/openapi.json", "/vendor/uplot/dist/uPlot.esm.js"])
def test_every_answer_carries_the_security_headers(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    policy = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy and "http" not in policy


def test_the_page_has_no_inline_script_but_the_hashed_import_map(client):
    page = client.get("/").text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    inline = [(attrs, body) for attrs, body in scripts if "src=" not in attrs]
    assert len(inline) == 1 and 'type="importmap"' in inline[0][0]
    json.loads(inline[0][1])  # the import map itself, intact
    digest = base64.b64encode(hashlib.sha256(inline[0][1].encode()).digest()).decode()
    policy = client.get("/").headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1).split()
    assert script_src == ["'self'", f"'sha256-{digest}'"]
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers either


def test_the_openapi_pages_are_off_by_default_and_on_when_asked(make_client):
    off = make_client()
    assert off.get("/docs").status_code == 404 and off.get("/redoc").status_code == 404
    assert off.get("/openapi.json").status_code == 200
    on = make_client(api_docs=True)
    r = on.get("/docs")
    assert r.status_code == 200 and "cdn.jsdelivr.net" in r.headers["content-security-policy"]
    assert "cdn" not in on.get("/").headers["content-security-policy"]


# -- defect 8: hosts, origins, share links -------------------------------------------------------------
def test_a_host_that_is_not_allowed_gets_400(client):
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example"):
        r = client.get("/api/health", headers={"host": host})
        assert r.status_code == 400 and "LAYERLAB_ALLOWED_HOSTS" in r.text, host
    for host in ("testserver", "127.0.0.1:8000", "localhost"):
        assert client.get("/api/health", headers={"host": host}).status_code == 200, host


def test_the_default_hosts_are_loopback_only(make_client):
    c = make_client(allowed_hosts="")
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert c.get("/api/health", headers={"host": host}).status_code == 200, host
    assert c.get("/api/health", headers={"host": "lab.example.org"}).status_code == 400
    assert c.get("/api/health").status_code == 400  # TestClient's own 'testserver'


def test_public_url_names_share_links_and_is_an_allowed_host(make_client):
    c = make_client(allowed_hosts="127.0.0.1", public_url="https://lab.example.org/")
    host = {"host": "lab.example.org"}
    r = c.post("/api/sessions", json={"title": "t"}, headers=host)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["share_url"] == f"https://lab.example.org/s/{s['share_token']}"
    # Whatever Host a request names, the link stays the public one.
    view = c.get(f"/api/shared/{s['share_token']}", headers={"host": "127.0.0.1:9"}).json()
    assert view["share_url"] == s["share_url"]


def test_a_websocket_from_another_origin_is_refused(client):
    run = api_for(client).create(spec())
    url = f"/api/runs/{run['id']}/stream"
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect(url, headers={"origin": "http://evil.example"}):
            pass
    assert e.value.code == 4403
    for origin in ({"origin": "http://testserver"}, {"origin": "http://127.0.0.1:8000"}, {}):
        with client.websocket_connect(url, headers=origin) as ws:
            assert strict_json(ws.receive_text())["type"] == "status"
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect(url, headers={"host": "evil.example"}):
            pass
    assert e.value.code == 4403


# -- defect 9: bodies that cannot be parsed at all -------------------------------------------------------
DEEP = ("[" * 5000 + "]" * 5000, '{"a":' * 965 + "1" + "}" * 965, '{"data":' * 70 + "1" + "}" * 70)
HUGE_INT = '{"data": {"dataset": "spiral", "seed": ' + "9" * 5000 + '}, "model": {"layers": []}}'


@pytest.mark.parametrize("path", ["/api/validate", "/api/validate?report=true", "/api/runs", "/api/sessions",
                                  "/api/data/preview", "/api/sessions/lookup"])
@pytest.mark.parametrize("body", [*DEEP, HUGE_INT], ids=["list5000", "obj965", "obj70", "int5000"])
def test_too_deep_or_huge_integer_bodies_get_422_at_the_root(client, path, body):
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    (err,) = r.json()["errors"]
    assert err["path"] == "$" and ("deeper" in err["message"] or "4300" in err["message"])


def test_ordinary_nesting_still_passes(client):
    assert client.post("/api/validate", json=spec()).status_code == 200


# -- defect 4: [] on digits ---------------------------------------------------------------------------
def test_a_linear_model_on_digits_validates_and_trains(client):
    for url in ("/api/validate", "/api/validate?report=true"):
        r = client.post(url, json=LINEAR_DIGITS)
        assert r.status_code == 200, r.text
        (head,) = r.json()["layers"]
        assert head["input_shape"] == [64] and r.json()["total_params"] == 650
    api = api_for(client)
    run = api.create(LINEAR_DIGITS)
    done = api.wait_status(run["id"], "finished", "failed", timeout=60)
    assert done["status"] == "finished" and done["history"]["epoch"] == [1, 2]


# -- defect 5: 1e999 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("field,path", [("l1", "training.l1"), ("l2", "training.l2")])
def test_infinity_is_a_422_at_its_path_everywhere_a_spec_goes_in(sapi, client, field, path):
    text = json.dumps(spec({"training": {field: "X"}})).replace('"X"', "1e999")
    s = sapi.create()
    for method, url, body, headers in [
            ("POST", "/api/validate", text, {}), ("POST", "/api/runs", text, {}),
            ("POST", f"/api/sessions/{s['id']}/runs", text, bearer(s["edit_token"])),
            ("PATCH", f"/api/sessions/{s['id']}", '{"spec": ' + text + "}", bearer(s["edit_token"])),
            ("POST", "/api/sessions", '{"spec": ' + text + "}", {})]:
        r = client.request(method, url, content=body, headers={"content-type": "application/json", **headers})
        assert r.status_code == 422, (url, r.text)
        assert [e["path"] for e in strict_json(r.text)["errors"]] == [path], url
    r = client.post("/api/validate?report=true", content=text, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["errors"][0]["path"] == path


def test_a_large_finite_float_round_trips_through_spec_json_and_export(client):
    api = api_for(client)
    run = api.create(spec({"training": {"l2": 1e300, "lr": 1e-300}}))
    api.wait_status(run["id"], "finished", "diverged", "failed", timeout=60)
    for suffix in ("", "/spec.json"):
        strict_json(client.get(f"/api/runs/{run['id']}{suffix}").text)  # standard JSON, no Infinity
    r = client.get(f"/api/runs/{run['id']}/export.py")
    assert r.status_code == 200 and "1e+300" in r.text


# -- defect 10: what a run id tells ------------------------------------------------------------------------
def test_a_runs_public_view_does_not_name_its_session(sapi, client):
    s = sapi.create()
    run = sapi.run(s, spec())
    view = client.get(f"/api/runs/{run['id']}").json()
    assert "session_id" not in view and view["in_session"] is True
    assert s["id"] not in client.get(f"/api/runs/{run['id']}").text
    loose = api_for(client).create(BASE_SPEC)
    assert client.get(f"/api/runs/{loose['id']}").json()["in_session"] is False


def test_an_unsaved_run_is_adopted_by_the_first_session_only(client):
    """The decision in docs/security.md: a run outside a session is a capability of whoever holds
    its id (they can already stop it); the first session to name it takes it, and then only that
    session's edit token steers it."""
    run = api_for(client).create(spec({"training": {"epochs": 5000}}))
    first = client.post("/api/sessions", json={"title": "a", "runs": [run["id"]]})
    assert first.status_code == 201
    second = client.post("/api/sessions", json={"title": "b", "runs": [run["id"]]})
    assert second.status_code == 422 and second.json()["errors"][0]["path"] == "runs[0]"
    assert client.post(f"/api/runs/{run['id']}/control", json={"action": "stop"}).status_code == 403
    r = client.post(f"/api/runs/{run['id']}/control", json={"action": "stop"},
                    headers=bearer(first.json()["edit_token"]))
    assert r.status_code == 200


def test_the_query_token_no_longer_steers(sapi, client):
    """The stream's token moved into a subprotocol; ?token= is ignored (it would reach logs)."""
    s = sapi.create()
    run = sapi.run(s, spec({"training": {"epochs": 5000}}))
    with client.websocket_connect(f"/api/runs/{run['id']}/stream?token={s['edit_token']}") as ws:
        ws.send_text(json.dumps({"action": "stop"}))
        while (m := strict_json(ws.receive_text()))["type"] != "error":
            pass
        assert "edit token" in m["message"]
    stopped = client.post(f"/api/runs/{run['id']}/control", json={"action": "stop"}, headers=bearer(s["edit_token"]))
    assert stopped.status_code == 200


# -- load: a bound on how many runs train at once ---------------------------------------------------------------
def test_runs_beyond_the_training_slots_take_turns_epoch_by_epoch(make_client):
    """Two running runs, one slot: both advance (turns, not one after the other), never both at once."""
    client = make_client(training_slots=1, max_concurrent_runs=2)
    api = api_for(client)
    a, b = (api.create(spec({"training": {"epochs": 5000}}))["id"] for _ in range(2))
    api.wait_epochs(a, 20)
    api.wait_epochs(b, 20)
    for r in (a, b):
        assert api.run(r)["status"] == "running"
    slots = client.app.state.manager.executor.slots  # the local executor's
    api.control(a, {"action": "pause"})
    api.wait_settled(a)
    before = len(api.run(b)["history"]["epoch"])
    api.wait_epochs(b, before + 20)  # a paused run holds no slot
    for r in (a, b):
        api.control(r, {"action": "stop"})
        assert api.wait_status(r, "stopped")["error"] is None
    assert slots.free == 1  # every slot given back

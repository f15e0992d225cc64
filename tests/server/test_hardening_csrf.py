"""Cross-site request forgery: a page on another site cannot change anything here.

The edit token travels in a header a cross-site page cannot set, but routes that need no token
(POST /api/runs, POST /api/sessions, a fork through a share link, control of an unsaved run) would
otherwise take a form or fetch from any site the student visits. A state-changing request that a
browser marks as coming from elsewhere gets 403; one with no browser marks (curl, the test clients,
scripts) goes through, as docs/security.md says. Same host policy as the websocket's Origin check.
"""

from __future__ import annotations

import pytest

from serverkit import api_for, spec, strict_json
from sessions_kit import bearer

EVIL = "http://evil.example"


def _state_changing_calls(client):
    """(method, path, json body, headers) of one request per route that changes something."""
    s = strict_json(client.post("/api/sessions", json={"title": "mine"}).text)
    auth = bearer(s["edit_token"])
    run = api_for(client).create(spec({"training": {"epochs": 5000}}))  # still running when stopped
    return [
        ("POST", "/api/runs", spec(), {}),
        ("POST", "/api/sessions", {"title": "t"}, {}),
        ("PATCH", f"/api/sessions/{s['id']}", {"title": "renamed"}, auth),
        ("POST", f"/api/sessions/{s['id']}/runs", spec(), auth),
        ("POST", f"/api/shared/{s['share_token']}/fork", {}, {}),
        ("POST", f"/api/runs/{run['id']}/control", {"action": "stop"}, {}),
        ("DELETE", f"/api/sessions/{s['id']}", None, auth),
    ]


@pytest.mark.parametrize("marks", [
    {"origin": EVIL},
    {"origin": "null"},  # a sandboxed frame, or a data: page
    {"origin": "http://127.0.0.1.evil.example"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},  # a sibling subdomain is not an allowed host
    {"origin": "null", "sec-fetch-site": "cross-site"},
    {"referer": EVIL + "/attack.html"},
], ids=lambda m: ",".join(f"{k}={v}" for k, v in m.items()))
def test_a_cross_site_state_change_gets_403_and_changes_nothing(client, marks):
    calls = _state_changing_calls(client)
    before = len(client.app.state.manager.runs)
    for method, path, body, headers in calls:
        r = client.request(method, path, json=body, headers={**headers, **marks})
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json")
        detail = strict_json(r.text)["detail"]
        assert "cross-site" in detail and "LAYERLAB_ALLOWED_HOSTS" in detail
        assert r.headers["x-content-type-options"] == "nosniff"
    assert len(client.app.state.manager.runs) == before
    s_id = calls[2][1].rsplit("/", 1)[1]
    got = client.get(f"/api/sessions/{s_id}", headers=calls[2][3])
    assert got.status_code == 200 and got.json()["title"] == "mine"


@pytest.mark.parametrize("marks", [
    {},  # curl, scripts, the test clients: no browser, so no forgery
    {"origin": "http://testserver"},
    {"origin": "http://127.0.0.1:8000"},
    {"origin": "http://localhost:5173"},  # the port does not matter: the host does, as for Host
    # The page is served with Referrer-Policy: no-referrer, under which the Fetch standard has a browser
    # send `Origin: null` on the page's own POSTs (Chromium sends the origin): Sec-Fetch-Site says it is ours.
    {"origin": "null", "sec-fetch-site": "same-origin"},
    {"sec-fetch-site": "same-origin"},
    {"sec-fetch-site": "none"},  # typed by the user
    {"referer": "http://127.0.0.1:8000/"},
], ids=lambda m: ",".join(f"{k}={v}" for k, v in m.items()) or "no-marks")
def test_same_origin_and_non_browser_state_changes_still_work(client, marks):
    for method, path, body, headers in _state_changing_calls(client):
        r = client.request(method, path, json=body, headers={**headers, **marks})
        assert r.status_code < 400, (method, path, r.status_code, r.text)


def test_reads_and_the_page_are_not_refused_from_another_site(client):
    # A cross-site GET changes nothing (and a link from a mail to the page must open it).
    for path in ("/", "/api/health", "/api/catalog"):
        r = client.get(path, headers={"origin": EVIL, "sec-fetch-site": "cross-site"})
        assert r.status_code == 200, path


def test_an_allowed_public_host_may_post(make_client):
    c = make_client(allowed_hosts="127.0.0.1", public_url="https://lab.example.org/")
    r = c.post("/api/sessions", json={"title": "t"},
               headers={"host": "lab.example.org", "origin": "https://lab.example.org"})
    assert r.status_code == 201, r.text
    r = c.post("/api/sessions", json={"title": "t"},
               headers={"host": "lab.example.org", "origin": "https://other.example.org"})
    assert r.status_code == 403


def test_any_host_setting_allows_any_origin(make_client):
    c = make_client(allowed_hosts="*")
    r = c.post("/api/sessions", json={"title": "t"}, headers={"origin": EVIL})
    assert r.status_code == 201, r.text


def test_a_cross_site_form_cannot_fork_through_a_share_link(client):
    # The one request a page elsewhere could really send: a form (or a no-cors fetch) needs no CORS
    # preflight, and a fork's body is optional, so an empty text/plain POST made a fork before this check.
    s = strict_json(client.post("/api/sessions", json={"title": "mine"}).text)
    form = {"content-type": "text/plain", "origin": EVIL, "sec-fetch-site": "cross-site"}
    r = client.post(f"/api/shared/{s['share_token']}/fork", content=b"", headers=form)
    assert r.status_code == 403, r.text
    r = client.post(f"/api/shared/{s['share_token']}/fork", content=b"", headers={"content-type": "text/plain"})
    assert r.status_code == 201, r.text  # the same request from curl

"""What the page needs of sessions beyond the API's first cut: a session saved after training keeps
the runs trained before it (POST /api/sessions {"runs"}), and an upload checked with ?report=true
answers a bad file with 200 {errors}, since a browser logs every 4xx as a console error."""

from __future__ import annotations

from serverkit import LONG, spec, wait_for
from sessions_kit import SessionsApi, bearer


def test_saving_keeps_the_runs_trained_before_and_they_are_steered_by_the_token(sapi, client):
    done = client.post("/api/runs", json=spec()).json()
    sapi.wait_done(done["id"])
    live = client.post("/api/runs", json=spec(LONG)).json()
    wait_for(lambda: sapi.run_state(live["id"])["status"] == "running", what="the long run to start")

    r = client.post("/api/sessions", json={"title": "Kept", "spec": spec(), "runs": [done["id"], live["id"]]})
    assert r.status_code == 201, r.text
    s = r.json()
    assert [x["id"] for x in sapi.get(s)["runs"]] == [done["id"], live["id"]]
    assert [x["history"]["epoch"] for x in sapi.shared(s)["runs"]][0] == sapi.run_state(done["id"])["history"]["epoch"]
    url = f"/api/runs/{live['id']}/control"
    assert client.post(url, json={"action": "stop"}).status_code == 403
    assert client.post(url, json={"action": "stop"}, headers=bearer(s["edit_token"])).status_code == 200
    sapi.wait_done(live["id"])

    # A run already in a session, or one that does not exist, is refused before anything is created.
    r = client.post("/api/sessions", json={"runs": ["nope", done["id"]]})
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["runs[0]", "runs[1]"]


def test_an_upload_with_report_answers_a_bad_file_with_200_errors(sapi, client, make_client):
    s = sapi.create()
    url = f"/api/sessions/{s['id']}/uploads"
    headers = {**bearer(s["edit_token"]), "content-type": "text/csv"}
    r = client.post(url, params={"report": "true"}, content=b"a,b,y\n1,2,0\n3,oops,1\n5,6,0\n7,8,1\n", headers=headers)
    assert r.status_code == 200
    (err,) = r.json()["errors"]
    assert (err["row"], err["column"], err["path"]) == (3, "b", "file")
    assert "row 3, column 'b'" in err["message"]
    r = client.post(url, params={"report": "true"}, content=b"a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", headers=headers)
    assert r.status_code == 201 and r.json()["n_classes"] == 2
    assert client.post(url, content=b"", headers=headers).status_code == 422  # without report, as before

    small = make_client(max_upload_bytes=20)
    s = SessionsApi(small).create()
    headers = {**bearer(s["edit_token"]), "content-type": "text/csv"}
    r = small.post(f"/api/sessions/{s['id']}/uploads", params={"report": "true"}, content=b"a,b,y\n" * 10, headers=headers)
    assert r.status_code == 200 and "the cap is 20 bytes" in r.json()["errors"][0]["message"]

"""Run names are kept with the run (issue 13): given at creation, renamed with the session's edit
token only, read back after the run ends, through a share link and in a fork, and backfilled by
migration 0004 for runs saved before names were kept. A run's number (its colour on the page) is
kept the same way, through a rename too, and migration 0005 reads it from the old names."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from server.store import Store
from serverkit import spec
from sessions_kit import SessionsApi, bearer


def test_a_name_is_kept_renamed_by_the_owner_only_and_copied_by_a_fork(client: TestClient, sapi: SessionsApi) -> None:
    s = sapi.create()
    run = sapi.run(s, spec({"training": {"epochs": 3}}), name="Run 1")
    fork_run = sapi.run(s, spec({"training": {"epochs": 3}}), name="Run 2 · more data", label="more data", parent=run["id"])
    sapi.wait_saved(s, run["id"])
    sapi.wait_saved(s, fork_run["id"])
    assert [r["name"] for r in sapi.get(s)["runs"]] == ["Run 1", "Run 2 · more data"]

    url = f"/api/runs/{run['id']}"
    assert client.patch(url, json={"name": "baseline"}).status_code == 403  # a share link's viewer
    assert client.patch(url, json={"name": "baseline"}, headers=bearer("x" * 43)).status_code == 403
    assert client.patch(url, json={"name": ""}, headers=bearer(s["edit_token"])).status_code == 422
    r = client.patch(url, json={"name": "baseline"}, headers=bearer(s["edit_token"]))
    assert r.status_code == 200 and r.json()["name"] == "baseline"
    assert sapi.run_state(run["id"])["name"] == "baseline"
    assert [r["name"] for r in sapi.shared(s)["runs"]] == ["baseline", "Run 2 · more data"]
    copy = sapi.fork(s)
    assert [r["name"] for r in sapi.get(copy)["runs"]] == ["baseline", "Run 2 · more data"]


def test_a_run_outside_a_session_is_renamed_by_anyone_who_has_it(client: TestClient, sapi: SessionsApi) -> None:
    r = client.post("/api/runs", json=spec({"training": {"epochs": 2}}), params={"name": "Run 1"})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    sapi.wait_done(run_id)
    assert client.patch(f"/api/runs/{run_id}", json={"name": "first try"}).json()["name"] == "first try"
    assert sapi.run_state(run_id)["name"] == "first try"


def test_migration_0004_names_old_runs_by_their_place_in_the_session(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    with sqlite3.connect(tmp_path / "old.db") as conn:  # back to 0003: runs without names
        conn.execute("ALTER TABLE runs DROP COLUMN name")
        conn.execute("UPDATE alembic_version SET version_num = '0003'")
        conn.execute("INSERT INTO sessions (id, title, notes, edit_token_hash, share_token, created_at, updated_at)"
                     " VALUES ('s1', 't', '', 'h', 'share', '2026-01-01', '2026-01-01')")
        for i, (rid, label) in enumerate([("b", None), ("a", "more data"), ("c", None)]):
            conn.execute("INSERT INTO runs (id, session_id, label, status, spec, history, stopped_early,"
                         " has_weights, created_at, updated_at) VALUES (?, 's1', ?, 'finished', '{}', '{}', 0, 0, ?,"
                         " '2026-01-01')", (rid, label, float(i)))
    Store(url).close()
    engine = create_engine(url)
    with engine.connect() as conn:
        names = dict(conn.execute(text("SELECT id, name FROM runs")).all())
    engine.dispose()
    assert names == {"b": "Run 1", "a": "Run 2 · more data", "c": "Run 3"}


def test_a_number_is_kept_through_a_rename_a_share_link_and_a_fork(client: TestClient, sapi: SessionsApi) -> None:
    s = sapi.create()
    run = sapi.run(s, spec({"training": {"epochs": 3}}), name="Run 7", number=7)
    plain = sapi.run(s, spec({"training": {"epochs": 3}}), name="a run")
    sapi.wait_saved(s, run["id"])
    sapi.wait_saved(s, plain["id"])
    r = client.patch(f"/api/runs/{run['id']}", json={"name": "baseline"}, headers=bearer(s["edit_token"]))
    assert r.status_code == 200 and r.json()["number"] == 7
    assert [(r["name"], r["number"]) for r in sapi.get(s)["runs"]] == [("baseline", 7), ("a run", None)]
    assert [r["number"] for r in sapi.shared(s)["runs"]] == [7, None]
    assert [r["number"] for r in sapi.get(sapi.fork(s))["runs"]] == [7, None]
    for bad in (0, -1, "three"):
        sapi.run(s, spec(), status=422, number=bad)


def test_migration_0005_numbers_old_runs_from_their_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    with sqlite3.connect(tmp_path / "old.db") as conn:  # back to 0004: runs named, not numbered
        conn.execute("ALTER TABLE runs DROP COLUMN number")
        conn.execute("UPDATE alembic_version SET version_num = '0004'")
        for i, (rid, name) in enumerate([("a", "Run 2 · more data"), ("b", "baseline"), ("c", None), ("d", "Run 12")]):
            conn.execute("INSERT INTO runs (id, name, status, spec, history, stopped_early, has_weights, created_at,"
                         " updated_at) VALUES (?, ?, 'finished', '{}', '{}', 0, 0, ?, '2026-01-01')", (rid, name, float(i)))
    Store(url).close()
    engine = create_engine(url)
    with engine.connect() as conn:
        numbers = dict(conn.execute(text("SELECT id, number FROM runs")).all())
    engine.dispose()
    assert numbers == {"a": 2, "b": None, "c": None, "d": 12}


def test_a_fork_links_to_its_source_for_its_owner_only(sapi: SessionsApi) -> None:
    s = sapi.create(title="Spiral")
    assert sapi.get(s)["forked_from"] is None
    copy = sapi.fork(s, {"title": "Spiral (fork)"})
    got = sapi.get(copy)
    assert got["title"] == "Spiral (fork)"
    assert got["forked_from"] == {"title": "Spiral", "share_url": s["share_url"]}
    assert "forked_from" not in sapi.shared(copy)  # a share link of the fork does not lead to the source

"""Schema migrations with Alembic: a fresh database gets the head revision; a database made before
Alembic (by the old additive migrate(), perhaps missing later columns) is upgraded in place with its
rows kept; several replicas migrating one PostgreSQL at once do it once, under the advisory lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from server.db import MIGRATIONS, Base, make_engine, migrate
from server.store import Store


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def _version(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def test_a_fresh_database_is_at_head_with_the_models_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    Store(url).close()
    assert _version(url) == [_head()]
    engine = create_engine(url)
    insp = inspect(engine)
    for table in Base.metadata.sorted_tables:  # the migrations build what the models describe
        assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}, table.name
    engine.dispose()
    Store(url).close()  # a second start changes nothing
    assert _version(url) == [_head()]


def test_a_database_from_before_alembic_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # an early schema: no notes, no forked_from, runs without advice/snapshots
        conn.execute("CREATE TABLE sessions (id VARCHAR(32) PRIMARY KEY, title VARCHAR(200), spec JSON,"
                     " edit_token_hash VARCHAR(64), share_token VARCHAR(64) UNIQUE, created_at DATETIME,"
                     " updated_at DATETIME)")
        conn.execute("CREATE TABLE runs (id VARCHAR(32) PRIMARY KEY, session_id VARCHAR(32), label VARCHAR(200),"
                     " parent_id VARCHAR(32), status VARCHAR(16), spec JSON, summary JSON, history JSON,"
                     " diagnosis JSON, best_epoch INTEGER, stopped_early BOOLEAN, error TEXT,"
                     " weights_final BLOB, weights_best BLOB, has_weights BOOLEAN, created_at FLOAT,"
                     " updated_at DATETIME)")
        conn.execute("INSERT INTO sessions VALUES ('s1', 'Old', NULL, 'h', 'share1', '2026-01-01', '2026-01-01')")
        conn.execute("INSERT INTO runs (id, session_id, status, spec, history, stopped_early, has_weights, created_at)"
                     " VALUES ('r1', 's1', 'finished', '{}', '{\"epoch\": [1]}', 0, 0, 1.0)")
    url = f"sqlite:///{db}"
    store = Store(url)
    store.close()
    assert _version(url) == [_head()]
    engine = create_engine(url)
    insp = inspect(engine)
    assert {"notes", "forked_from"} <= {c["name"] for c in insp.get_columns("sessions")}
    assert {"advice", "snapshots"} <= {c["name"] for c in insp.get_columns("runs")}
    assert "uploads" in insp.get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT title FROM sessions")).scalar_one() == "Old"
        assert conn.execute(text("SELECT history FROM runs WHERE id = 'r1'")).scalar_one() == '{"epoch": [1]}'
    engine.dispose()


def test_blobs_stored_before_0006_keep_their_tables_and_data_moves_last(tmp_path: Path) -> None:
    """0006 rebuilds SQLite's blobs with `data` last (server.uploads fills a zeroblob there); an old
    upload's stored table still reads back as it was."""
    from alembic import command

    from engine.csvdata import read_csv
    from server.uploads import Uploads

    url = f"sqlite:///{tmp_path / 'at5.db'}"
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
        conn.commit()
        assert [c["name"] for c in inspect(conn).get_columns("blobs")][-1] == "created_at"  # data in the middle
    table = read_csv(b"a,label\n1,x\n2,y\n3,x\n4,y\n", max_rows=10)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sessions (id, title, notes, edit_token_hash, share_token, created_at, updated_at)"
                          " VALUES ('s1', 't', '', 'h', 'share1', '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO blobs (hash, size_bytes, data, created_at) VALUES ('d1', :n, :d, '2026-01-01')"),
                     {"n": len(table.buffer()), "d": table.to_bytes()})
        conn.execute(text("INSERT INTO uploads (id, session_id, filename, n_rows, size_bytes, info, \"table\", blob,"
                          " created_at) VALUES ('u1', 's1', 'f.csv', 4, 20, '{}', '{}', 'd1', '2026-01-01')"))
    engine.dispose()
    store = Store(url)
    try:
        assert _version(url) == [_head()]
        assert [c["name"] for c in inspect(store.engine).get_columns("blobs")][-1] == "data"
        assert Uploads(store, 10).table("u1") == table
    finally:
        store.close()


@pytest.mark.cluster
def test_replicas_starting_together_migrate_postgres_once(postgres) -> None:
    url = postgres.new_database()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def replica() -> None:
        engine = make_engine(url)
        try:
            start.wait()
            migrate(engine)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert _version(url) == [_head()]
    engine = create_engine(url)
    assert {"sessions", "runs", "uploads", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_apps_and_processes_migrating_one_sqlite_file_at_once_do_it_once(tmp_path: Path) -> None:
    """Threads of one process (Alembic's context is process-global) and separate processes (the lock file)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def app() -> None:
        engine = make_engine(url)
        try:
            start.wait()
            migrate(engine)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=app) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    other = f"sqlite:///{tmp_path / 'processes.db'}"
    code = f"from server.db import make_engine, migrate; migrate(make_engine({other!r}))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert _version(url) == _version(other) == [_head()]

"""Database: SQLAlchemy 2 models, the engine, and start-up schema migration (Alembic).

SQLite (WAL mode) by default; PostgreSQL (postgresql+psycopg://...) for several web replicas.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy import create_engine, delete, event, inspect, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class SessionRow(Base):
    """A saved session: a title, notes, the current spec, and its runs."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="Untitled")
    notes: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    # Only a hash of the edit token is kept; the share token is itself the public handle.
    edit_token_hash: Mapped[str] = mapped_column(String(64))
    share_token: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    forked_from: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class RunRow(Base):
    """A run: the spec it ran with, its full history, diagnosis, status, and weights."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[Optional[str]] = mapped_column(
        String(32), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True, index=True)
    label: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)  # what made it: a remedy's label
    # Its name on the page ("Run 3 · more data"), kept so that it reads the same on reload, in
    # Compare and through a share link; the user may rename it (issue 13).
    name: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    # Its number on the page ("Run 3"), which picks its colour everywhere; a rename keeps it (issue 13).
    number: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    parent_id: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    history: Mapped[dict[str, Any]] = mapped_column(JSON)
    diagnosis: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    snapshots: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    best_epoch: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    stopped_early: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    advice: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    # The end's metrics of the weights kept: {"val_loss", "val_acc", "weights_epoch"} (None while live).
    result: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    # safetensors bytes, never pickle.
    weights_final: Mapped[Optional[bytes]] = mapped_column(LargeBinary, nullable=True, deferred=True)
    weights_best: Mapped[Optional[bytes]] = mapped_column(LargeBinary, nullable=True, deferred=True)
    has_weights: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class BlobRow(Base):
    """An uploaded table in engine.csvdata.Table's binary form, addressed by its SHA-256: the uploads
    of a session and of every fork of it share one copy."""

    __tablename__ = "blobs"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Last, as migration 0006 puts it on SQLite: a zeroblob is left unexpanded only in the last column.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class UploadRow(Base):
    """A CSV uploaded to a session: its table is the blob `blob` names (older rows: `table`, as JSON)."""

    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200), default="data.csv")
    n_rows: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    # Column summaries and the suggested choice of columns, for the page.
    info: Mapped[dict[str, Any]] = mapped_column(JSON)
    table: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)  # {} when `blob` is set
    blob: Mapped[Optional[str]] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def drop_orphan_blobs(s: Any) -> None:
    """Delete the stored tables that no upload names any more (inside the caller's transaction)."""
    used = select(UploadRow.blob).where(UploadRow.blob.is_not(None))
    s.execute(delete(BlobRow).where(BlobRow.hash.not_in(used)))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; for SQLite, the folder is created and WAL mode switched on."""
    u = make_url(url)
    kwargs: dict[str, Any] = {}
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(u.database)), exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        # A server outlives a database restart: a pooled connection is checked before use, not found dead mid-write.
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_lock key of schema migrations: any fixed 64-bit number that nothing else takes.
MIGRATION_LOCK = 0x4C4C_4D49_4752  # "LLMIGR"


# Alembic's `context` is process-global: two migrations in one process at once (two apps starting in
# threads, as tests do) would run on each other's connection. One at a time.
_MIGRATING = threading.Lock()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """For a SQLite file: an exclusive lock on `<file>.migrate-lock` while migrating (other processes wait).
    SQLite's own locking does not cover it: the DDL of a migration runs outside one transaction."""
    db = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not db or db == ":memory:":
        yield
        return
    with open(os.path.abspath(db) + ".migrate-lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Bring the schema up to Alembic's head, once, however many replicas start together.

    On PostgreSQL the upgrade runs under a session advisory lock: a second replica waits, then finds
    the schema at head and does nothing. On SQLite a lock file next to the database does the same.
    """
    with _MIGRATING, _sqlite_file_lock(engine):
        _upgrade(engine)


def _upgrade(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
            conn.commit()
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
        finally:
            if postgres:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                conn.commit()

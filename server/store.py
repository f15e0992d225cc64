"""Persistence of runs (sessions live in server/sessions.py). All calls block: the manager runs
them on its single database thread, so SQLite sees one writer at a time."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from .db import RunRow, make_engine, migrate
from .runs import INTERRUPTED_ERROR, TERMINAL, RunStatus

RENAMED_ONLY = frozenset({"name"})  # columns that save_run sets on insert only (rename_run changes them)
LIVE = tuple(s.value for s in RunStatus if s not in TERMINAL)  # queued, running, paused


class Store:
    """Runs in the database."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        migrate(self.engine)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def mark_interrupted(self, ids: Optional[list[str]] = None) -> int:
        """At start-up: runs left live by a previous process (all, or those of `ids`) become
        `interrupted`. Returns how many."""
        with self.session.begin() as s:
            query = update(RunRow).where(RunRow.status.in_(LIVE))
            if ids is not None:
                query = query.where(RunRow.id.in_(ids))
            res = s.execute(query.values(status=RunStatus.INTERRUPTED.value, error=INTERRUPTED_ERROR))
            return res.rowcount or 0

    def live_run_ids(self) -> list[str]:
        """Runs the database has as queued, running or paused."""
        with self.session() as s:
            return list(s.scalars(select(RunRow.id).where(RunRow.status.in_(LIVE))))

    def save_run(self, state: dict[str, Any]) -> None:
        """Insert or update a run from `state` (RunRow's columns); one transaction."""
        with self.session.begin() as s:
            row = s.get(RunRow, state["id"])
            if row is None:
                s.add(RunRow(**state))
            else:
                for k, v in state.items():
                    if k not in RENAMED_ONLY:
                        setattr(row, k, v)

    def rename_run(self, run_id: str, name: str) -> bool:
        """Set a run's name; False when there is no such run. Only this writes the name of a saved
        run, so that a trainer's flush (a remote one holds its own copy of the run) keeps a rename."""
        with self.session.begin() as s:
            res = s.execute(update(RunRow).where(RunRow.id == run_id).values(name=name))
            return bool(res.rowcount)

    def load_run(self, run_id: str) -> Optional[RunRow]:
        with self.session() as s:
            return s.get(RunRow, run_id)

    def runs_of_session(self, session_id: str) -> list[RunRow]:
        with self.session() as s:
            return list(s.scalars(select(RunRow).where(RunRow.session_id == session_id)
                                  .order_by(RunRow.created_at)))

    def weights(self, run_id: str, which: str) -> Optional[bytes]:
        col = RunRow.weights_best if which == "best" else RunRow.weights_final
        with self.session() as s:
            return s.scalar(select(col).where(RunRow.id == run_id))

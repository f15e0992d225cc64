"""Saved sessions: a title, notes, the current spec, its runs and uploads. No accounts.

Whoever creates a session gets an edit token; only its SHA-256 is stored. The share token is
the public handle of a read-only link (/s/{share_token}). Ids and tokens come from `secrets`:
ids have 128 bits, tokens 256, so none can be guessed, and nothing lists them. The session id
is not a secret; the edit token is.

Every method blocks: the routes run them on the manager's single database thread, and each
write is one transaction.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import delete, func, select
from sqlalchemy.orm import undefer

from .db import RunRow, SessionRow, UploadRow, drop_orphan_blobs, utcnow
from .runs import new_id as new_run_id
from .store import LIVE, Store

ID_BYTES = 16  # session and upload ids: 128 bits, 32 hex digits
TOKEN_BYTES = 32  # edit and share tokens: 256 bits, 43 URL-safe characters
MAX_LOOKUP = 100


def new_id() -> str:
    return secrets.token_hex(ID_BYTES)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def plausible_token(token: str) -> bool:
    """Whether `token` could be an id or token at all (URL-safe, 8 to 64 characters): anything
    else is refused without a database look-up."""
    return 8 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def timestamp(dt: Optional[datetime]) -> Optional[float]:
    """Seconds since the epoch, as runs' created_at; SQLite hands back naive UTC datetimes."""
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def remap_upload(spec: Optional[dict[str, Any]], uploads: dict[str, str]) -> Optional[dict[str, Any]]:
    """A copy of a spec whose data names an upload, pointing at that upload's copy."""
    if not spec:
        return spec
    out = copy.deepcopy(spec)
    data = out.get("data")
    if isinstance(data, dict) and data.get("upload") in uploads:
        data["upload"] = uploads[data["upload"]]
    return out


class Sessions:
    """Sessions in the database."""

    def __init__(self, store: Store) -> None:
        self.db = store.session

    # -- tokens ------------------------------------------------------------------------------------
    @staticmethod
    def can_edit(row: SessionRow, token: str) -> bool:
        """Whether `token` is the session's edit token (compared in constant time)."""
        return hmac.compare_digest(row.edit_token_hash, token_hash(token))

    # -- reading ------------------------------------------------------------------------------------
    def get(self, session_id: str) -> Optional[SessionRow]:
        with self.db() as s:
            return s.get(SessionRow, session_id)

    def by_share(self, share_token: str) -> Optional[SessionRow]:
        with self.db() as s:
            return s.scalar(select(SessionRow).where(SessionRow.share_token == share_token))

    def lookup(self, keys: list[tuple[str, str]]) -> list[tuple[SessionRow, int]]:
        """The sessions whose edit token matches, with their number of runs, newest change first."""
        tokens = dict(keys[:MAX_LOOKUP])
        with self.db() as s:
            rows = [r for r in s.scalars(select(SessionRow).where(SessionRow.id.in_(list(tokens)))
                                         .order_by(SessionRow.updated_at.desc()))
                    if self.can_edit(r, tokens[r.id])]
            counts = dict(s.execute(select(RunRow.session_id, func.count()).where(
                RunRow.session_id.in_([r.id for r in rows])).group_by(RunRow.session_id)).all())
        return [(r, counts.get(r.id, 0)) for r in rows]

    # -- writing ------------------------------------------------------------------------------------
    def create(self, title: str, notes: str, spec: Optional[dict[str, Any]]) -> tuple[SessionRow, str]:
        """A new session and its edit token (returned once, never stored)."""
        token = new_token()
        row = SessionRow(id=new_id(), title=title, notes=notes, spec=spec, edit_token_hash=token_hash(token),
                         share_token=new_token())
        with self.db.begin() as s:
            s.add(row)
        return row, token

    def update(self, session_id: str, changes: dict[str, Any]) -> Optional[SessionRow]:
        """Set title, notes and/or spec; None when the session has gone."""
        with self.db.begin() as s:
            row = s.get(SessionRow, session_id)
            if row is None:
                return None
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        return row

    def touch(self, session_id: str) -> None:
        with self.db.begin() as s:
            row = s.get(SessionRow, session_id)
            if row is not None:
                row.updated_at = utcnow()

    def delete(self, session_id: str) -> None:
        """Delete a session; its runs and uploads go with it (ON DELETE CASCADE)."""
        with self.db.begin() as s:
            # Deleted explicitly too, for databases without foreign-key enforcement.
            s.execute(delete(RunRow).where(RunRow.session_id == session_id))
            s.execute(delete(UploadRow).where(UploadRow.session_id == session_id))
            s.execute(delete(SessionRow).where(SessionRow.id == session_id))
            drop_orphan_blobs(s)

    def fork(self, source_id: str, title: Optional[str] = None) -> tuple[SessionRow, str]:
        """An editable copy of a session (titled `title`, else as the original), with copies of its
        uploads and of its runs (history, diagnosis, views and weights), in one transaction. A run
        still going is copied as it stands, as `stopped`. Returns the copy and its edit token."""
        token = new_token()
        with self.db.begin() as s:
            src = s.get(SessionRow, source_id)
            if src is None:
                raise LookupError(source_id)
            new = SessionRow(id=new_id(), title=src.title if title is None else title, notes=src.notes,
                             edit_token_hash=token_hash(token), share_token=new_token(), forked_from=src.id)
            s.add(new)
            s.flush()  # the copy's uploads and runs refer to it
            uploads: dict[str, str] = {}
            for up in s.scalars(select(UploadRow).where(UploadRow.session_id == src.id)
                                .options(undefer(UploadRow.table))):
                uploads[up.id] = new_id()
                s.add(UploadRow(id=uploads[up.id], session_id=new.id, filename=up.filename, n_rows=up.n_rows,
                                size_bytes=up.size_bytes, info=copy.deepcopy(up.info), table=up.table,
                                blob=up.blob, created_at=up.created_at))  # the table itself is shared
            runs = list(s.scalars(select(RunRow).where(RunRow.session_id == src.id).order_by(RunRow.created_at)
                                  .options(undefer(RunRow.weights_final), undefer(RunRow.weights_best))))
            ids = {r.id: new_run_id() for r in runs}
            for r in runs:
                values = {c.key: getattr(r, c.key) for c in RunRow.__table__.columns}
                values.update(id=ids[r.id], session_id=new.id, parent_id=ids.get(r.parent_id, r.parent_id),
                              spec=remap_upload(r.spec, uploads), history=copy.deepcopy(r.history),
                              status="stopped" if r.status in LIVE else r.status, updated_at=utcnow())
                s.add(RunRow(**values))
            new.spec = remap_upload(src.spec, uploads)
        return new, token


# -- steering a session's runs -------------------------------------------------------------------------
STEER_FORBIDDEN = ("this run belongs to a session: steering it needs the session's edit token "
                   "(a share link is read-only)")


def bearer_token(header: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


async def may_steer(manager: Any, sessions: Sessions, run: Any, token: Optional[str]) -> bool:
    """Whether a control may change `run`: any run outside a session; a session's run only with
    that session's edit token, so a share link cannot pause or stop the owner's runs."""
    if run.session_id is None:
        return True
    if not token:
        return False
    row = await manager.db(sessions.get, run.session_id)
    return row is not None and sessions.can_edit(row, token)

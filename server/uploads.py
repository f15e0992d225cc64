"""CSV uploads of a session.

The body is read with a size cap (a Content-Length over it is refused before any byte is read),
parsed with the csv module and checked off the event loop, then stored in one transaction: a bad
file leaves nothing behind. The manager trains on an upload through two hooks: `check_spec_data`
before a run is queued, and `Uploads.split` on the run's worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Optional

from fastapi import HTTPException, Request
from sqlalchemy import func, select, text

from engine.csvdata import (CsvError, Selection, check_choice, check_classes, describe, read_csv, suggest,
                            table_split)
from engine.csvdata import select as select_columns
from engine.csvtable import Spool, Table
from engine.datasets import Split
from engine.errors import ErrorItem, SpecError
from engine.spec import ExperimentSpec

from .db import BlobRow, UploadRow, drop_orphan_blobs
from .sessions import new_id, timestamp
from .store import Store


async def read_capped(request: Request, limit: int) -> Any:
    """The request body (a buffer read_csv takes: see Spool), or 413 as soon as it is known to pass
    `limit` bytes. Each chunk goes into one anonymous map as it arrives: no list of chunks joined
    into a second copy, and its memory is given back whole when the body is dropped."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"the file is {int(length):,} bytes; the cap is {limit:,} bytes")
    body = Spool(int(length) if length is not None and length.isdigit() else 1 << 16)
    try:
        async for chunk in request.stream():
            if len(body) + len(chunk) > limit:
                raise HTTPException(413, f"the file is larger than the cap of {limit:,} bytes")
            body.add(chunk)
    except BaseException:
        body.close()
        raise
    return body.seal()


def upload_view(row: UploadRow) -> dict[str, Any]:
    """An upload as the API shows it, with the `data` object a spec can use as it is."""
    info = row.info
    n_classes = len(info["classes"]) if info.get("classes") else None
    data: dict[str, Any] = {"dataset": "csv", "upload": row.id, "features": info["features"],
                            "target": info["target"]}
    if n_classes:
        data["n_classes"] = n_classes
    return {"id": row.id, "filename": row.filename, "n_rows": row.n_rows, "size_bytes": row.size_bytes,
            "created_at": timestamp(row.created_at), "columns": info["columns"], "features": info["features"],
            "target": info["target"], "task": info["task"], "n_classes": n_classes, "classes": info.get("classes"),
            "data": data}


BLOB_CHUNK = 1 << 20  # bytes written into a stored table at a time


def _insert_sqlite_blob(s: Any, digest: str, data: memoryview) -> None:
    """Store a table in SQLite without a copy of it in memory: a zeroblob of its size is inserted,
    then filled a megabyte at a time through SQLite's incremental blob I/O. Bound as one value, the
    blob was copied by sqlite3 and again into its record: 2x the file on top of the table (issue 14)."""
    s.add(BlobRow(hash=digest, size_bytes=len(data), data=func.zeroblob(len(data))))
    s.flush()
    rowid = s.execute(select(text("rowid")).select_from(BlobRow).where(BlobRow.hash == digest)).scalar_one()
    with s.connection().connection.driver_connection.blobopen("blobs", "data", rowid) as blob:
        for at in range(0, len(data), BLOB_CHUNK):
            blob.write(data[at:at + BLOB_CHUNK])


class Uploads:
    """Uploaded tables in the database. Every method blocks."""

    def __init__(self, store: Store, max_rows: int, max_concurrent: int = 2) -> None:
        self.db = store.session
        self.max_rows = max_rows
        self.slots = asyncio.Semaphore(max_concurrent)  # uploads read and parsed at once (the route's)

    def parse(self, raw: bytes, features: Optional[list[str]], target: Optional[str],
              task: Optional[str]) -> tuple[Table, dict[str, Any]]:
        """Parse and check a file and a choice of columns (defaults filled in); raises CsvError."""
        table = read_csv(raw, self.max_rows)  # decoded as it is read: no second copy of the file
        features, target, task = suggest(table, features, target, task)
        classes = check_choice(table, features, target, task)  # from the columns' stats: no arrays built
        info = {"columns": describe(table), "features": features, "target": target, "task": task,
                "classes": classes}
        return table, info

    def insert(self, session_id: str, filename: str, size: int, table: Table, info: dict[str, Any]) -> UploadRow:
        """Store the table once by its hash (an identical one already there is shared) and the upload."""
        data = table.buffer()  # the table's own buffer: no copy of it is made here
        digest = hashlib.sha256(data).hexdigest()
        row = UploadRow(id=new_id(), session_id=session_id, filename=filename, n_rows=table.n_rows,
                        size_bytes=size, info=info, table={}, blob=digest)
        with self.db.begin() as s:
            if s.get(BlobRow, digest) is None:
                if s.get_bind().dialect.name == "sqlite":
                    _insert_sqlite_blob(s, digest, data)
                else:
                    s.add(BlobRow(hash=digest, size_bytes=len(data), data=data))
            s.add(row)
        return row

    def get(self, session_id: str, upload_id: str) -> Optional[UploadRow]:
        with self.db() as s:
            row = s.get(UploadRow, upload_id)
            return row if row is not None and row.session_id == session_id else None

    def of_session(self, session_id: str) -> list[UploadRow]:
        with self.db() as s:
            return list(s.scalars(select(UploadRow).where(UploadRow.session_id == session_id)
                                  .order_by(UploadRow.created_at)))

    def delete(self, session_id: str, upload_id: str) -> bool:
        with self.db.begin() as s:
            row = s.get(UploadRow, upload_id)
            if row is None or row.session_id != session_id:
                return False
            s.delete(row)
            s.flush()
            drop_orphan_blobs(s)
            return True

    def table(self, upload_id: str, session_id: Optional[str] = None) -> Optional[Table]:
        """An upload's table; with `session_id`, only if it belongs to that session."""
        with self.db() as s:
            row = s.get(UploadRow, upload_id)
            if row is None or (session_id is not None and row.session_id != session_id):
                return None
            if row.blob is not None:
                return Table.from_bytes(s.scalar(select(BlobRow.data).where(BlobRow.hash == row.blob)))
            return Table.from_json(s.scalar(select(UploadRow.table).where(UploadRow.id == upload_id)))

    # -- training on an upload ----------------------------------------------------------------------
    def split(self, spec: ExperimentSpec, session_id: Optional[str] = None) -> Optional[Split]:
        """The split of a spec's upload; None for generated data. Without `session_id` it is the
        manager's split_provider, on a run's worker thread; with it (previews), the upload must
        belong to that session. SpecError if the upload is not there."""
        if spec.data.upload is None:
            return None
        table = self.table(spec.data.upload, session_id)
        if table is None:
            if session_id is not None:
                raise _not_here(spec.data.upload)
            raise SpecError([ErrorItem("data.upload", "the uploaded data of this run has been deleted")])
        try:
            return table_split(table, spec.data, spec.task or "classification")
        except CsvError as e:
            raise e.to_spec_error() from None


def check_table(table: Table, spec: ExperimentSpec) -> Selection:
    """The spec's columns of `table`, checked against its n_classes; raises SpecError with data.* paths."""
    d = spec.data
    try:
        sel = select_columns(table, list(d.features or []), d.target or "", spec.task or "classification",
                             n_rows=d.n_samples)
        check_classes(sel.classes, d)
    except CsvError as e:
        raise e.to_spec_error() from None
    return sel


def check_spec_table(table: Table, spec: ExperimentSpec) -> None:
    """As check_table, without building the arrays (the run's worker builds them); raises SpecError."""
    d = spec.data
    task = spec.task or "classification"
    try:
        classes = check_choice(table, list(d.features or []), d.target or "", task, n_rows=d.n_samples)
        check_classes(classes, d)
    except CsvError as e:
        raise e.to_spec_error() from None


def _not_here(upload_id: str) -> SpecError:
    return SpecError([ErrorItem("data.upload", f"there is no upload {upload_id!r} in this session")])


async def check_spec_data(manager: Any, uploads: Uploads, spec: ExperimentSpec, session_id: Optional[str]) -> None:
    """The manager's data_check: a spec on uploaded data must name an upload of its own session,
    and the columns and n_classes must fit it. Raises SpecError (422 with paths)."""
    if spec.data.upload is None:
        return
    if session_id is None:
        raise SpecError([ErrorItem("data.upload", "uploaded data trains inside its session: "
                                   "POST /api/sessions/{id}/runs with the session's edit token")])
    table = await manager.db(uploads.table, spec.data.upload, session_id)
    if table is None:
        raise _not_here(spec.data.upload)
    await asyncio.to_thread(check_spec_table, table, spec)


async def check_upload_exists(manager: Any, uploads: Uploads, spec: Optional[dict[str, Any]], session_id: str) -> None:
    """A saved spec may only name uploads of its own session (columns are checked when it runs)."""
    data = (spec or {}).get("data") or {}
    upload = data.get("upload")
    if upload is not None and await manager.db(uploads.get, session_id, upload) is None:
        raise _not_here(upload)

"""blobs.data becomes the table's last column, on SQLite. An upload's table is written there as a
zeroblob filled through incremental blob I/O (server.uploads), and SQLite leaves a zeroblob
unexpanded only in a record's last column: in the middle it allocated the whole blob, twice, while
the row was built (issue 14: 2.2x the file for a moment, against 0.3x). PostgreSQL is left alone:
column order does not change how it stores bytea.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = "hash, size_bytes, created_at, data"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if [c["name"] for c in sa.inspect(bind).get_columns("blobs")][-1] == "data":
        return
    op.create_table(
        "blobs_new",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.execute(f"INSERT INTO blobs_new ({COLUMNS}) SELECT {COLUMNS} FROM blobs")
    op.drop_table("blobs")
    op.rename_table("blobs_new", "blobs")


def downgrade() -> None:
    pass  # the order of columns is no part of the schema's meaning

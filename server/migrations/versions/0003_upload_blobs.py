"""Uploads stored once by content: the `blobs` table (a table's binary form by its SHA-256) and
`uploads.blob` naming it, so that a session's forks share one copy (issue 14, defect 6). Older
uploads keep their JSON `table`; server.uploads reads either.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    if "blobs" not in insp.get_table_names():
        op.create_table(
            "blobs",
            sa.Column("hash", sa.String(64), primary_key=True),
            sa.Column("size_bytes", sa.Integer, nullable=False),
            sa.Column("data", sa.LargeBinary, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "blob" not in {c["name"] for c in insp.get_columns("uploads")}:
        op.add_column("uploads", sa.Column("blob", sa.String(64), nullable=True))
        op.create_index("ix_uploads_blob", "uploads", ["blob"])


def downgrade() -> None:
    op.drop_index("ix_uploads_blob", "uploads")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("blob")
    op.drop_table("blobs")

"""Baseline: sessions, runs and uploads as they stood when Alembic took over from migrate().

A database made before Alembic has some or all of these tables, perhaps without columns added
since; the old migrate() added such columns in place, and so does this revision, once. A fresh
database gets the tables created here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The schema frozen at this revision (server/db.py's models may move on; later revisions say how).
meta = sa.MetaData()
sa.Table(
    "sessions", meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("spec", sa.JSON, nullable=True),
    sa.Column("edit_token_hash", sa.String(64), nullable=False),
    sa.Column("share_token", sa.String(64), nullable=False),
    sa.Column("forked_from", sa.String(32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_sessions_share_token", "share_token", unique=True),
)
sa.Table(
    "runs", meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("parent_id", sa.String(32), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("summary", sa.JSON, nullable=True),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Column("diagnosis", sa.JSON, nullable=True),
    sa.Column("snapshots", sa.JSON, nullable=True),
    sa.Column("best_epoch", sa.Integer, nullable=True),
    sa.Column("stopped_early", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("advice", sa.Text, nullable=True),
    sa.Column("weights_final", sa.LargeBinary, nullable=True),
    sa.Column("weights_best", sa.LargeBinary, nullable=True),
    sa.Column("has_weights", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_runs_session_id", "session_id"),
    sa.Index("ix_runs_status", "status"),
)
sa.Table(
    "uploads", meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("info", sa.JSON, nullable=False),
    sa.Column("table", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_uploads_session_id", "session_id"),
)


def upgrade() -> None:
    bind = op.get_bind()
    have = set(sa.inspect(bind).get_table_names())
    # Tables a database lacks are created whole; sorted so that a foreign key's table comes first.
    meta.create_all(bind, tables=[t for t in meta.sorted_tables if t.name not in have])
    for table in meta.sorted_tables:
        if table.name not in have:
            continue
        present = {c["name"] for c in sa.inspect(bind).get_columns(table.name)}
        for col in table.columns:
            if col.name not in present:
                # As migrate() did: added nullable, since old rows have no value for it.
                op.add_column(table.name, sa.Column(col.name, col.type, nullable=True))


def downgrade() -> None:
    for table in reversed(meta.sorted_tables):
        op.drop_table(table.name)

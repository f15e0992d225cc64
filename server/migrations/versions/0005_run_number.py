"""runs.number: a run's number on the page ("Run 3"), which picks its colour on the main page, in
Compare, through a share link and after a reload; a rename keeps it (issue 13). Runs saved before
it take the number their name starts with, where it starts with one.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NUMBERED = re.compile(r"^Run (\d{1,7})\b")  # the page's names: "Run 3", "Run 3 · more data"


def upgrade() -> None:
    if "number" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}:
        return
    op.add_column("runs", sa.Column("number", sa.Integer, nullable=True))
    runs = sa.table("runs", sa.column("id", sa.String), sa.column("name", sa.String), sa.column("number", sa.Integer))
    bind = op.get_bind()
    for run_id, name in bind.execute(sa.select(runs.c.id, runs.c.name).where(runs.c.name.is_not(None))).all():
        m = NUMBERED.match(name)
        if m:
            bind.execute(sa.update(runs).where(runs.c.id == run_id).values(number=int(m.group(1))))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("number")

"""runs.name: a run's name on the page ("Run 3 · more data"), kept with the run so that it reads the
same after a reload, in Compare and through a share link, and so that the user can rename it (issue 13).
Runs saved before it are named by their place in their session, as the page named them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "name" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}:
        return
    op.add_column("runs", sa.Column("name", sa.String(200), nullable=True))
    runs = sa.table("runs", sa.column("id", sa.String), sa.column("session_id", sa.String),
                    sa.column("label", sa.String), sa.column("name", sa.String), sa.column("created_at", sa.Float))
    bind = op.get_bind()
    rows = bind.execute(sa.select(runs.c.id, runs.c.session_id, runs.c.label)
                        .where(runs.c.session_id.is_not(None))
                        .order_by(runs.c.session_id, runs.c.created_at)).all()
    seen: dict[str, int] = {}
    for run_id, session_id, label in rows:
        seen[session_id] = n = seen.get(session_id, 0) + 1
        name = f"Run {n} · {label}" if label else f"Run {n}"
        bind.execute(sa.update(runs).where(runs.c.id == run_id).values(name=name[:200]))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("name")

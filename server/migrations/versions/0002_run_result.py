"""runs.result: the end's metrics of the weights a run keeps ({"val_loss", "val_acc", "weights_epoch"}).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: runs saved before it fall back to their last epoch's metrics (server.manager.run_from_row).
    # A database that the old migrate() already gave the column (it shipped briefly without Alembic) keeps it.
    if "result" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}:
        op.add_column("runs", sa.Column("result", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("result")

"""bulk creates planned per batch (initial load): one row per batch instead of one outbox entry
per record; an interrupted batch is expanded into outbox entries when it is recovered

Revision ID: 0003_create_batches
Revises: 0002_sync
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_create_batches"
down_revision = "0002_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "create_batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("golden_ids", sa.Text, nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("done_at", sa.DateTime),
    )
    op.create_index("ix_create_batches_pending", "create_batches", ["system", "entity", "status"])


def downgrade() -> None:
    op.drop_index("ix_create_batches_pending", "create_batches")
    op.drop_table("create_batches")

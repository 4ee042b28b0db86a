"""sync workers: entity leases with fencing tokens, and the workers' heartbeats

Revision ID: 0008_sync_workers
Revises: 0007_notifications
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_sync_workers"
down_revision = "0007_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(255)),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "sync_workers",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
        sa.Column("stopped_at", sa.DateTime),
        sa.Column("entities", sa.Text, nullable=False),
        sa.Column("cycles", sa.Integer, nullable=False),
        sa.Column("last_cycle_at", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("sync_workers")
    op.drop_table("worker_leases")

"""sync engine state: what each linked system was last seen holding, tolerated ownership
violations, conflict reasons, and the health of each system (circuit breaker)

Revision ID: 0002_sync
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_sync"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("seen", sa.Text))
        batch.add_column(sa.Column("tolerated", sa.Text))
    with op.batch_alter_table("conflicts") as batch:
        batch.add_column(sa.Column("reason", sa.Text))
    op.create_index("ix_outbox_golden", "outbox", ["golden_id", "system", "status"])
    op.create_table(
        "system_health",
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("open_until", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("system_health")
    op.drop_index("ix_outbox_golden", "outbox")
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("tolerated")
        batch.drop_column("seen")

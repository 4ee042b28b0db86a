"""audit of bulk creates: one audit row per created batch (op create_batch, the records in its
``new``), found per record through the range of golden ids it holds; the golden table's index on
entity alone goes (the index on entity and status serves the same queries)

Revision ID: 0009_audit_batches
Revises: 0008_sync_workers
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_audit_batches"
down_revision = "0008_sync_workers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_batches",
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audit.id"), primary_key=True),
        sa.Column("first_golden", sa.String(36), nullable=False),
        sa.Column("last_golden", sa.String(36), nullable=False),
    )
    op.create_index("ix_audit_batches_golden", "audit_batches", ["first_golden", "last_golden"])
    op.drop_index("ix_golden_entity", "golden")


def downgrade() -> None:
    op.create_index("ix_golden_entity", "golden", ["entity"])
    op.drop_index("ix_audit_batches_golden", "audit_batches")
    op.drop_table("audit_batches")

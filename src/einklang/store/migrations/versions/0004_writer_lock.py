"""the writer lock says what holds it and for how long a silent holder keeps it (its lease)

Revision ID: 0004_writer_lock
Revises: 0003_create_batches
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_writer_lock"
down_revision = "0003_create_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("locks") as batch:
        batch.add_column(sa.Column("purpose", sa.String(64)))
        batch.add_column(sa.Column("lease_seconds", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("locks") as batch:
        batch.drop_column("lease_seconds")
        batch.drop_column("purpose")

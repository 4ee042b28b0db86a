"""review rows: what an import wrote into its review file, for ``review apply`` to trust instead of the file

Revision ID: 0005_review_rows
Revises: 0004_writer_lock
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_review_rows"
down_revision = "0004_writer_lock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_rows",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("review_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("golden_id", sa.String(36)),
        sa.Column("fingerprints", sa.Text, nullable=False),
        sa.Column("candidates", sa.Text, nullable=False),
        sa.Column("incoming", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("applied_at", sa.DateTime),
        sa.Column("applied_run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("decision", sa.String(16)),
    )


def downgrade() -> None:
    op.drop_table("review_rows")

"""notifications: what ``einklang serve`` has reported on which channel, and current outages

Revision ID: 0007_notifications
Revises: 0006_web_accounts
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_notifications"
down_revision = "0006_web_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_marks",
        sa.Column("event_key", sa.String(255), primary_key=True),
        sa.Column("channel", sa.String(255), primary_key=True),
        sa.Column("sent_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "system_outages",
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("down_since", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("system_outages")
    op.drop_table("notification_marks")

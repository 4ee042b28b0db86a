"""web accounts: local users of ``einklang serve``, their sessions and API tokens; review rows
shown and assigned in the web app; indexes for the web app's overview and conflict list

Revision ID: 0006_web_accounts
Revises: 0005_review_rows
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_web_accounts"
down_revision = "0005_review_rows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("language", sa.String(8)),
        sa.Column("email", sa.String(255)),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime),
    )
    with op.batch_alter_table("review_rows") as batch:
        batch.add_column(sa.Column("details", sa.Text))
        batch.add_column(sa.Column("assigned_to", sa.String(64)))
    op.create_index("ix_conflicts_status_id", "conflicts", ["status", "id"])
    op.create_index("ix_conflicts_status_field", "conflicts", ["status", "field"])
    op.create_index("ix_links_entity_system", "links", ["entity", "system"])
    op.create_index("ix_golden_entity_status", "golden", ["entity", "status"])
    op.create_index("ix_outbox_status_entity", "outbox", ["status", "entity"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_entity", "outbox")
    op.drop_index("ix_golden_entity_status", "golden")
    op.drop_index("ix_links_entity_system", "links")
    op.drop_index("ix_conflicts_status_field", "conflicts")
    op.drop_index("ix_conflicts_status_id", "conflicts")
    with op.batch_alter_table("review_rows") as batch:
        batch.drop_column("assigned_to")
        batch.drop_column("details")
    op.drop_table("api_tokens")
    op.drop_table("web_sessions")
    op.drop_table("users")

"""initial state store: runs, golden records, links, cursors, snapshots, changes, outbox,
conflicts, problems, audit, match exclusions, locks

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(64)),
        sa.Column("args", sa.Text),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text),
    )
    op.create_table(
        "golden",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("base", sa.Text, nullable=False),
        sa.Column("base_hash", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_golden_entity", "golden", ["entity"])
    op.create_table(
        "links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("golden_id", sa.String(36), sa.ForeignKey("golden.id"), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("native_id", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255)),
        sa.Column("record_hash", sa.String(32)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("system", "entity", "native_id", name="uq_links_native"),
        sa.UniqueConstraint("golden_id", "system", name="uq_links_golden_system"),
    )
    op.create_table(
        "cursors",
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(64), primary_key=True),
        sa.Column("native_id", sa.String(255), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("native_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version", sa.String(255)),
        sa.Column("record", sa.Text),
        sa.Column("source_modified", sa.String(64)),
        sa.Column("captured_at", sa.DateTime, nullable=False),
        sa.Column("processed_at", sa.DateTime),
    )
    op.create_index("ix_changes_pending", "changes", ["entity", "processed_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("golden_id", sa.String(36), sa.ForeignKey("golden.id"), nullable=False),
        sa.Column("native_id", sa.String(255)),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("base_version", sa.String(255)),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("done_at", sa.DateTime),
    )
    op.create_index("ix_outbox_pending", "outbox", ["system", "status", "id"])
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("golden_id", sa.String(36), sa.ForeignKey("golden.id"), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("base", sa.Text),
        sa.Column("values", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("resolved_at", sa.DateTime),
    )
    op.create_index("ix_conflicts_open", "conflicts", ["status", "entity", "golden_id"])
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("system", sa.String(64)),
        sa.Column("entity", sa.String(64)),
        sa.Column("native_id", sa.String(255)),
        sa.Column("golden_id", sa.String(36)),
        sa.Column("field", sa.String(64)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.DateTime, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("system", sa.String(64)),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("golden_id", sa.String(36)),
        sa.Column("native_id", sa.String(255)),
        sa.Column("op", sa.String(32), nullable=False),
        sa.Column("old", sa.Text),
        sa.Column("new", sa.Text),
        sa.Column("cause", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_golden", "audit", ["golden_id"])
    op.create_index("ix_audit_run", "audit", ["run_id"])
    op.create_table(
        "match_exclusions",
        sa.Column("entity", sa.String(64), primary_key=True),
        sa.Column("key_a", sa.String(255), primary_key=True),
        sa.Column("key_b", sa.String(255), primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "locks",
        "match_exclusions",
        "audit",
        "problems",
        "conflicts",
        "outbox",
        "changes",
        "snapshots",
        "cursors",
        "links",
        "golden",
        "runs",
    ):
        op.drop_table(table)

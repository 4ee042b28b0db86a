"""links: the index on (entity, system) gains native_id, so that a record's link is found
through a full key whichever of the two indexes the planner takes

Without table statistics (PostgreSQL with autovacuum off, or a state store filled in bulk and
not analyzed yet) the planner took the bulk UPDATE of a page of links, and the look-up of a
page's link hashes, through the (entity, system) index: every row of the system read for each
link, about 5 s per page of 500 at 20,000 links. The web app's counts per entity use the new
index as they used the old one (its first two columns).

Revision ID: 0010_cyc_links_native_index
Revises: 0009_audit_batches
"""

from alembic import op

revision = "0010_cyc_links_native_index"
down_revision = "0009_audit_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_links_entity_system_native", "links", ["entity", "system", "native_id"])
    op.drop_index("ix_links_entity_system", "links")


def downgrade() -> None:
    op.create_index("ix_links_entity_system", "links", ["entity", "system"])
    op.drop_index("ix_links_entity_system_native", "links")

"""links: the index on (entity, system) gains native_id, so that a record's link is found
through a full key whichever of the two indexes the planner takes; links and golden leave room
in their pages for updates (PostgreSQL)

Without table statistics (PostgreSQL with autovacuum off, or a state store filled in bulk and
not analyzed yet) the planner took the bulk UPDATE of a page of links, and the look-up of a
page's link hashes, through the (entity, system) index: every row of the system read for each
link, about 5 s per page of 500 at 20,000 links. The web app's counts per entity use the new
index as they used the old one (its first two columns).

PostgreSQL: links and golden rows are written again with every merge (a link's version, hash
and last seen record; a golden record's base), none of them indexed columns: with room left in
each page (fillfactor 80) the new row version goes into the same page and no index is touched
(a HOT update), instead of one new entry in each of the table's indexes. Pages filled from now
on keep the room (COPY and INSERT alike); the cost is about a quarter more space for the two tables.

Revision ID: 0010_cyc_links_native_index
Revises: 0009_audit_batches
"""

from alembic import op

revision = "0010_cyc_links_native_index"
down_revision = "0009_audit_batches"
branch_labels = None
depends_on = None


# per cent of each page filled by inserts (PostgreSQL); the rest is for the rows' next versions
FILLFACTOR = 80


def upgrade() -> None:
    op.create_index("ix_links_entity_system_native", "links", ["entity", "system", "native_id"])
    op.drop_index("ix_links_entity_system", "links")
    if op.get_bind().dialect.name == "postgresql":
        for table in ("links", "golden"):
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("links", "golden"):
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    op.create_index("ix_links_entity_system", "links", ["entity", "system"])
    op.drop_index("ix_links_entity_system_native", "links")

"""Secondary indexes an initial load into an empty state store builds once, after its rows.

Each golden record and link a load writes also goes into every index of its table. Two of
those indexes serve only overview queries (the web app's counts per entity), never the load or
the sync's lookups by id: ``ix_golden_entity_status`` and ``ix_links_entity_system_native``. When
the golden and links tables are empty as a load starts, :func:`indexes_built_after` drops them
for the load and builds each once at its end, which costs less than updating them row by row
(bench/RESULTS.md). The unique indexes (a link per native id, a link per golden record and
system) are never dropped: they are what refuses a record linked twice.

A load that is killed before its end leaves a store without the two indexes. Nothing is wrong
with its data, only two queries are slower; :func:`ensure_indexes`, called whenever the store
is opened with migration (``open_store``: every command that writes), builds what is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.store import schema as t

if TYPE_CHECKING:  # state.py opens stores through ensure_indexes
    from einklang.store.state import StateStore

# Indexes that no query of a load or of the sync's per-record lookups uses.
BUILT_AFTER_LOAD: tuple[sa.Index, ...] = tuple(
    index
    for table in (t.golden, t.links)
    for index in table.indexes
    if index.name in ("ix_golden_entity_status", "ix_links_entity_system_native")
)


def _tables_empty(conn: Connection) -> bool:
    return all(conn.execute(sa.select(table.c.id).limit(1)).first() is None for table in (t.golden, t.links))


def missing_indexes(conn: Connection) -> list[sa.Index]:
    """Of :data:`BUILT_AFTER_LOAD`, those the database lacks."""
    inspector = sa.inspect(conn)
    present = {index["name"] for table in (t.golden.name, t.links.name) for index in inspector.get_indexes(table)}
    return [index for index in BUILT_AFTER_LOAD if index.name not in present]


def ensure_indexes(store: StateStore) -> list[str]:
    """Build the indexes an interrupted load left out; returns their names (usually none)."""
    with store.read() as conn:
        if not missing_indexes(conn):
            return []  # the usual case, without a write transaction
    with store.transaction() as conn:
        missing = missing_indexes(conn)  # again: another process may have built them meanwhile
        for index in missing:
            conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    return [str(index.name) for index in missing]


@contextmanager
def indexes_built_after(store: StateStore) -> Iterator[bool]:
    """Within the block, :data:`BUILT_AFTER_LOAD` are absent when the golden and links tables
    were empty at its start; they are built when it ends, however it ends (an exception,
    Ctrl-C). Yields whether they were dropped."""
    with store.transaction() as conn:
        dropped = _tables_empty(conn)
        if dropped:
            for index in BUILT_AFTER_LOAD:
                conn.execute(sa.schema.DropIndex(index, if_exists=True))
    try:
        yield dropped
    finally:
        if dropped:
            ensure_indexes(store)

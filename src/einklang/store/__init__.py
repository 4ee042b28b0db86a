"""The state store: one layer over einklang's own tables, one function per operation.

:mod:`~einklang.store.state` opens the database (engine, migrations, transactions, runs, the
sync lock); the queries live in :mod:`~einklang.store.links` (golden records and links),
:mod:`~einklang.store.changes` (captured changes, cursors, snapshots),
:mod:`~einklang.store.outbox`, :mod:`~einklang.store.conflicts`,
:mod:`~einklang.store.journal` (audit log, problems), :mod:`~einklang.store.health` and
:mod:`~einklang.store.imports` (import fingerprints, "not a duplicate" pairs). Each takes the
connection of the caller's transaction and returns typed rows (:mod:`~einklang.store.rows`).
"""

from einklang.store.state import StateStore, open_store, utcnow

__all__ = ["StateStore", "open_store", "utcnow"]

"""The state store: links, base values, cursors, outbox, conflicts, audit and runs."""

from einklang.store.state import StateStore, open_store, utcnow

__all__ = ["StateStore", "open_store", "utcnow"]

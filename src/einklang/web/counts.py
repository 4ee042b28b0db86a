"""The number of linked records per entity, counted in the background.

Counting a million golden records takes about 100 ms on PostgreSQL even from an index, which is
the whole time budget of the overview (refreshed every few seconds by every open browser). The
count changes slowly, so it is kept here and counted again in a worker thread when it is older
than :data:`MAX_AGE`; a page never waits for it except the very first time. Everything else on
the overview is counted at each request (all on small index ranges).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence

import sqlalchemy as sa

from einklang.store import schema as t
from einklang.store.state import StateStore, utcnow

MAX_AGE = dt.timedelta(seconds=30)


def count_linked(store: StateStore, entities: Sequence[str]) -> dict[str, int]:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(t.golden.c.entity, sa.func.count())
            .where(t.golden.c.status == "active", t.golden.c.entity.in_(list(entities)))
            .group_by(t.golden.c.entity)
        )
        found = {str(row[0]): int(row[1]) for row in rows}
    return {entity: found.get(entity, 0) for entity in entities}


class LinkedCounts:
    """entity -> active golden records, at most :data:`MAX_AGE` old once known."""

    def __init__(self, store: StateStore, entities: Sequence[str], max_age: dt.timedelta = MAX_AGE) -> None:
        self.store = store
        self.entities = list(entities)
        self.max_age = max_age
        self._lock = threading.Lock()
        self._counts: dict[str, int] | None = None
        self._as_of: dt.datetime | None = None
        self._refreshing: threading.Thread | None = None

    def get(self) -> tuple[dict[str, int], dt.datetime]:
        """The counts and when they were taken (counted now when never counted before)."""
        with self._lock:
            counts, as_of = self._counts, self._as_of
        if counts is None or as_of is None:
            self.refresh()
            with self._lock:
                assert self._counts is not None and self._as_of is not None
                return dict(self._counts), self._as_of
        if utcnow() - as_of > self.max_age:
            self.refresh_in_background()
        return dict(counts), as_of

    def refresh(self) -> None:
        taken = utcnow()
        counts = count_linked(self.store, self.entities)
        with self._lock:
            self._counts, self._as_of = counts, taken

    def refresh_in_background(self) -> None:
        with self._lock:
            if self._refreshing is not None and self._refreshing.is_alive():
                return
            self._refreshing = threading.Thread(target=self._refresh_quietly, name="einklang-web-counts", daemon=True)
            self._refreshing.start()

    def invalidate(self) -> None:
        """After a change of many records (an import, an undo): count again at the next request."""
        with self._lock:
            self._as_of = None if self._counts is None else dt.datetime.min

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # the old counts stay; the next request tries again
            return

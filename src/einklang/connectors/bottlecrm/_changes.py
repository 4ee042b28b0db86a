"""Reading BottleCRM's changes: its activity feed between full reconciliations, or whole lists.

BottleCRM's lists cannot be filtered or ordered by modification time (django-crm 1.35: only
``created_at`` at day granularity). What it does offer is an activity feed,
``GET /api/activities/?entity_type=Contact`` (``Account`` likewise): one row per create, update
and delete made through its API or web app, with the record's id and a timestamp, newest first,
at most 50 rows and no offset. So a cycle costs O(changes):

1. read the feed once; the rows since the cursor (less ``overlap_seconds``, minus the rows
   already taken) name the records that changed;
2. fetch those records, several at a time; a record that is gone (404) was deleted;
3. report those whose version differs from the one the engine stored (snapshot store).

The feed is not the whole truth, so it is never trusted alone:

- when all 50 rows are newer than the cursor, older ones may be hidden: the cycle falls back to
  a full reconciliation;
- changes without a request (imports by queryset, bulk updates, management commands) write no
  activity: every ``reconcile_seconds`` (default an hour) a full reconciliation pages through the
  whole list, compares each version with the stored one, and finds deletions by the id set;
- ids that BottleCRM's webhooks named (:meth:`WebhookInbox.add`) are read in the next cycle
  as well, whatever the feed says.

The cursor holds the feed position (newest timestamp, the activity ids of its overlap window)
and when the last reconciliation ran; with a snapshot store the ids live there, not in the
cursor, so a quiet cycle reads and writes a few hundred bytes. Resources without a feed
(products) keep the list scan by ``updated_at`` of :func:`scan_list`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

from einklang.connectors._snapshots import changed_records, changed_since_snapshot, remembered, vanished
from einklang.connectors.base import ChangePage, JsonValue, NativeRecord, SnapshotStore
from einklang.connectors.bottlecrm._api import (
    ACTIVITY_LIMIT,
    Activity,
    BottleCrmApi,
    Scan,
    format_time,
    native,
    parse_time,
)
from einklang.connectors.bottlecrm._resources import Resource


class WebhookInbox:
    """Record ids BottleCRM's webhooks named, per resource, until a cycle has read them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[str]] = {}

    def add(self, resource: str, ids: Iterable[str]) -> None:
        with self._lock:
            self._waiting.setdefault(resource, set()).update(ids)

    def waiting(self, resource: str) -> set[str]:
        with self._lock:
            return set(self._waiting.get(resource, ()))

    def done(self, resource: str, ids: Iterable[str]) -> None:
        with self._lock:
            self._waiting.get(resource, set()).difference_update(ids)


class ChangeReader:
    def __init__(
        self,
        api: BottleCrmApi,
        *,
        overlap: timedelta,
        reconcile_seconds: float,
        use_feed: bool,
        inbox: WebhookInbox,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.overlap = overlap
        self.reconcile_seconds = reconcile_seconds
        self.use_feed = use_feed
        self.inbox = inbox
        self.clock = clock

    def has_feed(self, resource: Resource) -> bool:
        return self.use_feed and resource.activity_type is not None

    def read(self, resource: Resource, cursor: JsonValue, snapshots: SnapshotStore | None) -> Iterator[ChangePage]:
        previous: Mapping[str, Any] = cursor if isinstance(cursor, Mapping) else {}
        if not self.has_feed(resource):
            yield from scan_list(self.api, resource, previous, snapshots, self.overlap)
            return
        notified = self.inbox.waiting(resource.name)
        if "feed" in previous and not self._reconciliation_due(previous):
            page = self._read_feed(resource, previous, snapshots, notified)
            if page is not None:
                yield page
                self.inbox.done(resource.name, notified)  # only now: the engine has stored the page
                return
        if (yield from self._reconcile(resource, previous, snapshots)):
            self.inbox.done(resource.name, notified)

    def initial_cursor(self, resource: Resource) -> JsonValue:
        """A cursor meaning "now" after an initial load: the live ids, the feed position, and a
        reconciliation due at the first cycle (it stores the versions the engine compares with)."""
        cursor: dict[str, Any] = {}
        for page in self.read(resource, None, None):
            cursor = dict(page.cursor or {})
        return {**cursor, "reconciled_at": 0}

    def _reconciliation_due(self, previous: Mapping[str, Any]) -> bool:
        reconciled_at = previous.get("reconciled_at")
        return not isinstance(reconciled_at, int | float) or self.clock() - reconciled_at >= self.reconcile_seconds

    # --- between reconciliations: the feed ----------------------------------------------------

    def _read_feed(
        self, resource: Resource, previous: Mapping[str, Any], snapshots: SnapshotStore | None, notified: set[str]
    ) -> ChangePage | None:
        """The changes the feed names since the cursor; None when the feed cannot tell (overflow)."""
        assert resource.activity_type is not None
        feed = previous["feed"]
        since = parse_time(feed["since"]) if feed.get("since") else None
        taken = set(feed.get("seen", []))
        rows = self.api.activities(resource.activity_type)
        window_start = since - self.overlap if since is not None else None
        if len(rows) >= ACTIVITY_LIMIT and (window_start is None or min(r.at for r in rows) >= window_start):
            return None  # older activities than the oldest shown may be new as well
        new_rows = [r for r in rows if (window_start is None or r.at >= window_start) and r.activity_id not in taken]
        named = sorted({r.record_id for r in new_rows} | notified)
        found = self.api.get_many(resource, named) if named else {}
        stored = snapshots.hashes(list(found)) if snapshots is not None else {}
        changed = changed_records(found.values(), stored) if snapshots is not None else list(found.values())
        deleted = [native_id for native_id in named if native_id not in found]
        cursor = {**previous, "feed": feed_position(rows, since, self.overlap)}
        if "ids" in previous:  # no snapshot store: the cursor keeps the id set for deletions
            cursor["ids"] = sorted((set(previous["ids"]) | set(found)) - set(deleted))
        return ChangePage(records=changed, deleted_ids=deleted, cursor=cursor)

    # --- every reconcile_seconds: the whole list ----------------------------------------------

    def _reconcile(
        self, resource: Resource, previous: Mapping[str, Any], snapshots: SnapshotStore | None
    ) -> Generator[ChangePage, None, bool]:
        """A full scan compared with the stored versions; True if it could be trusted.

        The feed position is taken first, so a change made while the scan runs is read from the
        feed next time."""
        assert resource.activity_type is not None
        started = self.clock()
        rows = self.api.activities(resource.activity_type)
        old_since = previous.get("feed", {}).get("since") if isinstance(previous.get("feed"), Mapping) else None
        # ids the feed names since the last position: a record created and deleted since then
        # was never stored, and is reported deleted all the same
        named = {r.record_id for r in rows if old_since is None or r.at >= parse_time(old_since) - self.overlap}
        known_ids = set(previous.get("ids", [])) | (named if previous else set())
        if snapshots is not None:
            known_ids |= set(snapshots.known_ids())
        old_cursor = dict(previous) if previous else None
        scan = Scan()
        live_ids: set[str] = set()
        for raw_rows in self.api.list_pages(resource, scan):
            records = [native(resource, row) for row in raw_rows]
            live_ids.update(record.native_id for record in records)
            changed = changed_since_snapshot(records, snapshots)
            if changed:
                # until the final page, a crash makes the next read start from the old cursor
                yield ChangePage(records=changed, cursor=old_cursor)
        if not scan.consistent:
            # The list moved under the scan: records may have been skipped and ids may look
            # deleted that are not. Keep the old cursor; the next read reconciles again.
            yield ChangePage(cursor=old_cursor)
            return False
        deleted = vanished(known_ids, live_ids) if (previous or snapshots is not None) else []
        cursor: dict[str, Any] = {"feed": feed_position(rows, None, self.overlap), "reconciled_at": started}
        if snapshots is None:
            cursor["ids"] = sorted(live_ids)
        yield ChangePage(deleted_ids=deleted, cursor=cursor)
        return True


def feed_position(rows: list[Activity], since: Any, overlap: timedelta) -> dict[str, Any]:
    """The newest timestamp seen, and the ids of the activities in its overlap window (taken)."""
    newest = max([r.at for r in rows] + ([since] if since is not None else []), default=None)
    if newest is None:
        return {"since": None, "seen": []}
    return {
        "since": format_time(newest),
        "seen": sorted(r.activity_id for r in rows if r.at >= newest - overlap),
    }


def scan_list(
    api: BottleCrmApi,
    resource: Resource,
    previous: Mapping[str, Any],
    snapshots: SnapshotStore | None,
    overlap: timedelta,
) -> Iterator[ChangePage]:
    """Every read pages through the whole list: by ``updated_at`` (with the overlap window's
    versions kept in the cursor) where the resource has it, else by the stored versions."""
    since = parse_time(previous["updated_since"]) if previous.get("updated_since") else None
    known_ids: set[str] = set(previous.get("ids", []))
    if snapshots is not None and not resource.has_updated_at:
        known_ids |= set(snapshots.known_ids())
    recent: dict[str, str] = dict(previous.get("recent", {}))
    newest = since
    live_ids: set[str] = set()
    loaded_recent: dict[str, str] = {}
    scan = Scan()
    # Until the final page, a crash must make the next read start from the old cursor.
    old_cursor = dict(previous) if previous else None
    for rows in api.list_pages(resource, scan):
        records = [native(resource, row) for row in rows]
        live_ids.update(record.native_id for record in records)
        if resource.has_updated_at:
            in_window: list[NativeRecord] = []
            for record in records:
                updated = parse_time(str(record.version))
                newest = updated if newest is None else max(newest, updated)
                if since is not None and updated < since - overlap:
                    continue
                loaded_recent[record.native_id] = str(record.version)
                in_window.append(record)
            # Unchanged records of the overlap window were reported last time already.
            changed = changed_records(in_window, recent)
        else:
            changed = changed_since_snapshot(records, snapshots)
        if changed:
            yield ChangePage(records=changed, cursor=old_cursor)

    if not scan.consistent:
        # The list moved under the scan: records may have been skipped and ids may look
        # deleted that are not. Keep the old cursor; the next read scans again.
        yield ChangePage(cursor=old_cursor)
        return
    deleted = vanished(known_ids, live_ids) if (previous or snapshots is not None) else []
    yield ChangePage(
        deleted_ids=deleted,
        cursor={
            "updated_since": format_time(newest) if newest else None,
            "ids": sorted(live_ids),
            "recent": remembered(loaded_recent),
        },
    )

"""Change and deletion detection for systems that cannot say what changed: compare, don't trust.

Two comparisons serve every connector without a complete change feed:

- *versions*: a record is news when its version (a content hash, an ETag, a write stamp) differs
  from the one seen before. "Before" is the engine's :class:`SnapshotStore` (snapshot mode), or
  the versions a connector keeps in its cursor for the overlap window of a time-based read, so
  that re-read records are not reported again.
- *id sets*: a record is deleted when its id was known before and is no longer live.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TypeVar

from einklang.connectors.base import NativeRecord, SnapshotStore

# Versions a cursor remembers for its overlap window; beyond this the window is simply re-sent
# (reading a record again is allowed, missing one is not), so cursors stay small.
MAX_REMEMBERED_VERSIONS = 1000

Id = TypeVar("Id", str, int)


def stored_versions(snapshots: SnapshotStore | None, native_ids: Sequence[str]) -> dict[str, str]:
    """The versions the previous scan stored for these ids (none without a snapshot store)."""
    return snapshots.hashes(native_ids) if snapshots is not None else {}


def changed_records(records: Iterable[NativeRecord], seen: Mapping[str, str | None]) -> list[NativeRecord]:
    """The records whose version is not the one seen before (new records included)."""
    return [record for record in records if seen.get(record.native_id) != record.version]


def changed_since_snapshot(records: Sequence[NativeRecord], snapshots: SnapshotStore | None) -> list[NativeRecord]:
    """The records of one scanned page that differ from the previous scan's."""
    return changed_records(records, stored_versions(snapshots, [record.native_id for record in records]))


def changed_ids(current: Mapping[str, str | None], seen: Mapping[str, str | None]) -> list[str]:
    """Ids (sorted) whose current version is not the one seen before, when only versions are listed."""
    return sorted(native_id for native_id, version in current.items() if seen.get(native_id) != version)


def vanished(known_ids: Iterable[Id], live_ids: Collection[Id]) -> list[Id]:
    """Known ids (sorted) that are no longer live: the deletions an id-set difference finds."""
    return sorted({native_id for native_id in known_ids if native_id not in live_ids})


def remembered(versions: dict[str, str]) -> dict[str, str]:
    """The versions a cursor keeps for its next overlap window (none when too many)."""
    return versions if len(versions) <= MAX_REMEMBERED_VERSIONS else {}

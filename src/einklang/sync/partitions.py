"""Partitions of an entity's golden records, so that several sync workers can share one entity.

The golden-id space of an entity is split into ``count`` partitions by a stable hash of the
golden id (:func:`partition_of`): a change's partition is known before it is merged, from the
link of the record it came from. A worker leases partitions (:mod:`einklang.store.leases`) and
its cycle is given a :class:`GoldenScope`: the engine merges only the pending changes, applies
only the conflict decisions and sends only the outbox rows of golden records in scope.

Partition 0 has two more duties, each needing one writer per entity:

* **capture** — reading the systems' change feeds and advancing their cursors stays single-
  writer per (entity, system): two readers of one feed would store every change twice and race
  for the cursor. Capture is cheap next to merging and sending (a page of changes is one
  indexed query and one insert), so one reader keeps up with many mergers.
* **unlinked records** — a change of a record not linked yet has no golden id. Deciding what it
  is (link by key, fuzzy match, or a new golden record) must not happen in two workers at once,
  or both could create the same record (I2). Partition 0 handles every unlinked change; the
  new golden record it creates belongs to the partition its id hashes to, whose owner sends
  its creates.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


def partition_of(golden_id: str, count: int) -> int:
    """The partition of a golden record: stable across processes and versions (CRC-32, not hash())."""
    return zlib.crc32(golden_id.encode()) % count if count > 1 else 0


@dataclass(frozen=True)
class GoldenScope:
    """The golden records one cycle may work on: ``partitions`` of ``count``."""

    count: int = 1
    partitions: frozenset[int] = frozenset({0})

    def __post_init__(self) -> None:
        if self.count < 1 or not self.partitions or not all(0 <= p < self.count for p in self.partitions):
            raise ValueError(f"partitions {sorted(self.partitions)} of {self.count} are not a valid scope")

    @property
    def whole(self) -> bool:
        return len(self.partitions) == self.count

    @property
    def captures(self) -> bool:
        """Reads the systems' change feeds (one reader per entity and system)."""
        return 0 in self.partitions

    def owns(self, golden_id: str | None) -> bool:
        """Is the golden record in scope? ``None`` (a record not linked yet) belongs to partition 0."""
        if self.whole:
            return True
        if golden_id is None:
            return 0 in self.partitions
        return partition_of(golden_id, self.count) in self.partitions


EVERYTHING = GoldenScope()

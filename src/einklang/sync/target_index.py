"""The target's unlinked records by key, for an initial load into a target that is not empty."""

from __future__ import annotations

from einklang.connectors.base import NativeRecord
from einklang.model import CanonicalRecord, CanonicalValue


class TargetKeyIndex:
    """Per key field: value -> unlinked target records; a target record is linked at most once."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.empty = True
        self.keys = keys
        self._by_key: dict[str, dict[CanonicalValue, list[str]]] = {key: {} for key in keys}
        self._records: dict[str, NativeRecord] = {}
        self._canonical: dict[str, CanonicalRecord] = {}
        self._taken: set[str] = set()

    def add(self, canonical: CanonicalRecord, record: NativeRecord) -> None:
        self._records[record.native_id] = record
        self._canonical[record.native_id] = canonical
        for key in self.keys:
            value = canonical.get(key)
            if value is not None:
                self._by_key[key].setdefault(value, []).append(record.native_id)

    def lookup(self, canonical: CanonicalRecord) -> tuple[str | None, list[NativeRecord], bool]:
        """(key used, free candidates, whether a key matched a record already linked in this load)."""
        taken_hit = False
        for key in self.keys:
            value = canonical.get(key)
            if value is None:
                continue
            ids = self._by_key[key].get(value, [])
            free = [self._records[i] for i in ids if i not in self._taken]
            if free:
                return key, free, False
            taken_hit = taken_hit or bool(ids)
        return None, [], taken_hit

    def take(self, record: NativeRecord) -> None:
        self._taken.add(record.native_id)

    def is_taken(self, native_id: str) -> bool:
        return native_id in self._taken

    def record(self, native_id: str) -> NativeRecord:
        return self._records[native_id]

    def untaken_count(self) -> int | None:
        """Target records not linked by this load (None when the index was not built)."""
        if self.empty or not self._records:
            return None if not self.empty else 0
        return len(self._records) - len(self._taken)

    def free_canonical(self) -> dict[str, CanonicalRecord]:
        return {nid: record for nid, record in self._canonical.items() if nid not in self._taken}

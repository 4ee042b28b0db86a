"""An in-memory system that implements the whole connector contract.

Used by tests, the stateful model and experiments; registered as the ``memory`` connector.
Several connector instances with the same ``store`` setting share one ``MemorySystem``, so a
test can edit "the CRM" directly while the engine talks to it through the connector. A system
can be taken down (every call raises ``SystemUnavailable``) and told to reject values
(``RecordRejected``), to exercise outages and permanent failures.

Entity options: ``correlation`` (native field einklang may write its golden id into),
``changed`` (native field the system fills with its own modification time),
``archive: {column, value}`` (how a record is marked inactive), ``page_size`` (of change pages).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from einklang.connectors.base import (
    Capabilities,
    ChangeDetection,
    ChangePage,
    Connector,
    JsonValue,
    NativeRecord,
    RecordNotFound,
    RecordRejected,
    SnapshotStore,
    StaleVersion,
    SystemUnavailable,
)
from einklang.connectors.settings import ArchiveRule, ConnectorSettings, Name, PositiveInt


@dataclass
class _Row:
    version: int
    fields: dict[str, Any]


@dataclass
class MemoryEntity:
    rows: dict[str, _Row] = field(default_factory=dict)
    # change feed: sequence number -> (native id, deleted?)
    feed: list[tuple[int, str, bool]] = field(default_factory=list)


class MemorySystem:
    """The data of one simulated system; thread-safe."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.entities: dict[str, MemoryEntity] = {}
        self.down = False
        self.rejected_values: set[str] = set()
        self.calls = 0
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.clock: dt.datetime = dt.datetime(2024, 1, 1)

    def entity(self, name: str) -> MemoryEntity:
        return self.entities.setdefault(name, MemoryEntity())

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=1)
        return self.clock

    # --- direct edits, as a user of the system would make them ----------------------------
    def insert(
        self, entity: str, fields: Mapping[str, Any], native_id: str | None = None, changed: str | None = None
    ) -> str:
        with self._lock:
            nid = native_id or f"{self.name or 'm'}-{next(self._ids)}"
            data = dict(fields)
            if changed:
                data[changed] = self.tick()
            self.entity(entity).rows[nid] = _Row(1, data)
            self._log(entity, nid, False)
            return nid

    def edit(self, entity: str, native_id: str, fields: Mapping[str, Any], changed: str | None = None) -> None:
        with self._lock:
            row = self.entity(entity).rows[native_id]
            row.fields.update(fields)
            if changed:
                row.fields[changed] = self.tick()
            row.version += 1
            self._log(entity, native_id, False)

    def remove(self, entity: str, native_id: str) -> None:
        with self._lock:
            del self.entity(entity).rows[native_id]
            self._log(entity, native_id, True)

    def records(self, entity: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {nid: dict(row.fields) for nid, row in self.entity(entity).rows.items()}

    def _log(self, entity: str, native_id: str, deleted: bool) -> None:
        self.entity(entity).feed.append((next(self._seq), native_id, deleted))


_SYSTEMS: dict[str, MemorySystem] = {}
_SYSTEMS_LOCK = threading.Lock()


def memory_system(name: str) -> MemorySystem:
    """The shared system called ``name`` (created on first use)."""
    with _SYSTEMS_LOCK:
        return _SYSTEMS.setdefault(name, MemorySystem(name))


def forget_memory_systems() -> None:
    with _SYSTEMS_LOCK:
        _SYSTEMS.clear()


class MemorySettings(ConnectorSettings):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    # The shared MemorySystem, or its name (default: the system name).
    store: MemorySystem | Name | None = None


class MemoryEntityOptions(ConnectorSettings):
    correlation: Name | None = None
    changed: Name | None = None
    archive: ArchiveRule | None = None
    page_size: PositiveInt = 500


class MemoryConnector(Connector):
    """A connector to a :class:`MemorySystem`; serves any entity, configured or not."""

    settings_model = MemorySettings
    entity_settings_model = MemoryEntityOptions
    settings: MemorySettings
    entity_settings: Mapping[str, MemoryEntityOptions]

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any] | BaseModel,
        entities: Mapping[str, Mapping[str, Any] | BaseModel],
    ) -> None:
        super().__init__(system, settings, entities)
        store = self.settings.store or system
        self.data = store if isinstance(store, MemorySystem) else memory_system(store)

    def _enter(self, entity: str | None = None) -> MemoryEntity | None:
        self.data.calls += 1
        if self.data.down:
            raise SystemUnavailable("simulated outage", system=self.system)
        return self.data.entity(entity) if entity is not None else None

    def _entity(self, entity: str) -> MemoryEntity:
        found = self._enter(entity)
        assert found is not None
        return found

    def _options(self, entity: str) -> MemoryEntityOptions:
        return self.entity_settings.get(entity) or MemoryEntityOptions()

    def capabilities(self, entity: str) -> Capabilities:
        options = self._options(entity)
        return Capabilities(
            ChangeDetection.FEED,
            reports_deletions=True,
            conditional_writes=True,
            correlation_field=options.correlation,
            modified_field=options.changed,
        )

    def check(self) -> str:
        self._enter()
        return f"memory system {self.data.name!r}"

    def _native(self, native_id: str, row: _Row) -> NativeRecord:
        return NativeRecord(native_id, str(row.version), dict(row.fields))

    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        with self.data._lock:
            data = self._entity(entity)
            records = [self._native(nid, row) for nid, row in sorted(data.rows.items())]
        for start in range(0, len(records), page_size):
            yield records[start : start + page_size]

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        after = int(cursor or 0)
        page_size = self._options(entity).page_size
        with self.data._lock:
            data = self._entity(entity)
            newest: dict[str, tuple[int, bool]] = {}
            for seq, nid, deleted in data.feed:
                if seq > after:
                    newest[nid] = (seq, deleted)
            ordered = sorted(newest.items(), key=lambda item: item[1][0])
            snapshot = [(nid, seq, deleted, data.rows.get(nid)) for nid, (seq, deleted) in ordered]
            last = data.feed[-1][0] if data.feed else after
        if not snapshot:
            return
        for start in range(0, len(snapshot), page_size):
            chunk = snapshot[start : start + page_size]
            page = ChangePage(cursor=chunk[-1][1] if start + page_size < len(snapshot) else max(last, after))
            for nid, _seq, deleted, row in chunk:
                if deleted or row is None:
                    page.deleted_ids.append(nid)
                else:
                    page.records.append(self._native(nid, row))
            yield page

    def current_cursor(self, entity: str) -> JsonValue:
        data = self._entity(entity)
        return data.feed[-1][0] if data.feed else 0

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        with self.data._lock:
            data = self._entity(entity)
            return {nid: self._native(nid, data.rows[nid]) for nid in native_ids if nid in data.rows}

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        with self.data._lock:
            data = self._entity(entity)
            hits = [
                self._native(nid, row)
                for nid, row in sorted(data.rows.items())
                if all(row.fields.get(k) == v for k, v in criteria.items())
            ]
        return hits[:limit]

    def count(self, entity: str) -> int | None:
        return len(self._entity(entity).rows)

    def _check_values(self, fields: Mapping[str, Any], native_id: str | None = None) -> None:
        for value in fields.values():
            if isinstance(value, str) and value in self.data.rejected_values:
                raise RecordRejected(f"value {value!r} refused by validation", system=self.system, record_id=native_id)

    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        self._entity(entity)
        with self.data._lock:
            for record in records:
                self._check_values(record)
            changed = self._options(entity).changed
            created = []
            for record in records:
                nid = self.data.insert(entity, record, changed=changed)
                created.append(self._native(nid, self.data.entity(entity).rows[nid]))
            return created

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        with self.data._lock:
            data = self._entity(entity)
            row = data.rows.get(native_id)
            if row is None:
                raise RecordNotFound("no such record", system=self.system, record_id=native_id)
            if expected_version is not None and str(row.version) != expected_version:
                raise StaleVersion(
                    f"version is {row.version}, expected {expected_version}", system=self.system, record_id=native_id
                )
            self._check_values(patch, native_id)
            self.data.edit(entity, native_id, patch, changed=self._options(entity).changed)
            return self._native(native_id, data.rows[native_id])

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        with self.data._lock:
            data = self._entity(entity)
            row = data.rows.get(native_id)
            if row is None:
                raise RecordNotFound("no such record", system=self.system, record_id=native_id)
            if expected_version is not None and str(row.version) != expected_version:
                raise StaleVersion(
                    f"version is {row.version}, expected {expected_version}", system=self.system, record_id=native_id
                )
            self.data.remove(entity, native_id)

    def archive(self, entity: str, native_id: str, expected_version: str | None) -> None:
        rule = self._options(entity).archive
        if rule is None:
            super().archive(entity, native_id, expected_version)  # refuses: no way to archive
            return
        self.update(entity, native_id, rule.patch(), expected_version)

"""The connector contract as a pytest suite every connector must pass.

A connector passes it by subclassing :class:`ConnectorContract` in a test module and providing
two fixtures:

* ``connector``: a :class:`~einklang.connectors.base.Connector` serving one entity named
  ``contact`` (override :attr:`ConnectorContract.entity` for another name) whose native fields
  include ``name``, ``email`` and ``city`` (text, nullable), on an empty data set. Where the
  connector has a page-size option, set it to :attr:`ConnectorContract.page_size` so that paging
  is exercised.
* ``backdoor``: a :class:`BackDoor` on the same data that bypasses the connector, the way another
  user of the system changes records (for a database table: :class:`SqlTableBackDoor`).

A kind whose fields have other names (a product's ``name``, ``code`` and ``description``) runs
the same suite through :class:`RenamedFields`: its ``connector`` fixture wraps the real connector
so that the contract's ``name``, ``email`` and ``city`` are the kind's text fields, and its
back door speaks the contract's names too. Nothing else changes: every test runs against the
real system.

Hooks a subclass may override: :meth:`ConnectorContract.new_record` (e.g. to add an id the system
does not generate), :meth:`ConnectorContract.missing_id` and :meth:`ConnectorContract.settle`.
"""

from __future__ import annotations

import abc
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from einklang.connectors.base import (
    Capabilities,
    ChangeDetection,
    ChangePage,
    Connector,
    JsonValue,
    NativeRecord,
    RecordNotFound,
    SnapshotStore,
    StaleVersion,
)

CONTRACT_FIELDS = ("name", "email", "city")


class BackDoor(abc.ABC):
    """Reads and changes the system's records without the connector, as another user would.

    Changes made here must look to the connector like any other user's changes: where the system
    keeps a modification stamp or a soft-delete flag, the back door maintains them the way the
    system's own applications do.
    """

    @abc.abstractmethod
    def insert(self, fields: Mapping[str, Any]) -> str:
        """Create a record; return its native id."""

    @abc.abstractmethod
    def update(self, native_id: str, fields: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def delete(self, native_id: str) -> None: ...

    @abc.abstractmethod
    def read(self, native_id: str) -> dict[str, Any] | None:
        """The record's stored fields, or None if it is gone (or flagged deleted)."""


class SqlTableBackDoor(BackDoor):
    """A back door into one database table.

    ``stamp`` gives columns every write sets, with a function computing the value (a change
    column the table's applications maintain, when no trigger does); ``soft_delete`` gives the
    column values that mark a row deleted, for tables that keep deleted rows.
    """

    def __init__(
        self,
        engine: sa.Engine,
        table: str,
        id_column: str,
        *,
        schema: str | None = None,
        stamp: Mapping[str, Callable[[], Any]] | None = None,
        soft_delete: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.table = sa.Table(table, sa.MetaData(schema=schema), autoload_with=engine)
        self.id_column = self.table.c[id_column]
        self.stamp = dict(stamp or {})
        self.soft_delete = dict(soft_delete or {})

    def _key(self, native_id: str) -> Any:
        return int(native_id) if self.id_column.type.python_type is int else native_id

    def _stamped(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {**{name: make() for name, make in self.stamp.items()}, **fields}

    def _live(self) -> sa.ColumnElement[bool]:
        conditions = [
            sa.or_(self.table.c[name] != value, self.table.c[name].is_(None))
            for name, value in self.soft_delete.items()
        ]
        return sa.and_(sa.true(), *conditions)

    def insert(self, fields: Mapping[str, Any]) -> str:
        with self.engine.begin() as conn:
            result = conn.execute(sa.insert(self.table).values(self._stamped(fields)))
            if self.id_column.name in fields:
                return str(fields[self.id_column.name])
            key = result.inserted_primary_key
            assert key is not None
            return str(key[0])

    def update(self, native_id: str, fields: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(self.table).where(self.id_column == self._key(native_id)).values(self._stamped(fields))
            )

    def delete(self, native_id: str) -> None:
        where = self.id_column == self._key(native_id)
        with self.engine.begin() as conn:
            if self.soft_delete:
                conn.execute(sa.update(self.table).where(where).values(self._stamped(self.soft_delete)))
            else:
                conn.execute(sa.delete(self.table).where(where))

    def read(self, native_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            statement = sa.select(self.table).where(self.id_column == self._key(native_id), self._live())
            row = conn.execute(statement).first()
        return dict(row._mapping) if row is not None else None


class RenamedFields(Connector):
    """A connector seen with the contract's field names (``roles``: contract name -> native name).

    Only names are translated, in both directions; every call goes to the wrapped connector.
    Native fields not named in ``roles`` pass through as they are.
    """

    def __init__(self, inner: Connector, entity: str, roles: Mapping[str, str]) -> None:
        super().__init__(inner.system, {}, {entity: {}})
        self.inner = inner
        self.entity = entity
        self.to_native = dict(roles)
        self.to_contract = {native: name for name, native in roles.items()}

    def _native(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {self.to_native.get(name, name): value for name, value in fields.items()}

    def _contract(self, record: NativeRecord) -> NativeRecord:
        fields = {self.to_contract.get(name, name): value for name, value in record.fields.items()}
        return NativeRecord(native_id=record.native_id, version=record.version, fields=fields)

    def capabilities(self, entity: str) -> Capabilities:
        return self.inner.capabilities(entity)

    def check(self) -> str:
        return self.inner.check()

    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        for page in self.inner.read_all(entity, page_size):
            yield [self._contract(record) for record in page]

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        for page in self.inner.read_changes(entity, cursor, snapshots):
            yield ChangePage(
                records=[self._contract(record) for record in page.records],
                deleted_ids=page.deleted_ids,
                cursor=page.cursor,
            )

    def current_cursor(self, entity: str) -> JsonValue:
        return self.inner.current_cursor(entity)

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        return {key: self._contract(record) for key, record in self.inner.get(entity, native_ids).items()}

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        return [self._contract(record) for record in self.inner.find(entity, self._native(criteria), limit)]

    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        return [self._contract(record) for record in self.inner.create(entity, [self._native(r) for r in records])]

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        return self._contract(self.inner.update(entity, native_id, self._native(patch), expected_version))

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        self.inner.delete(entity, native_id, expected_version)

    def archive(self, entity: str, native_id: str, expected_version: str | None) -> None:
        self.inner.archive(entity, native_id, expected_version)

    def close(self) -> None:
        self.inner.close()


class MemorySnapshotStore(SnapshotStore):
    """What the state store does for SNAPSHOT connectors, in memory: remember each stored page."""

    def __init__(self, hashes: Mapping[str, str] | None = None) -> None:
        self._hashes: dict[str, str] = dict(hashes or {})

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        return {native_id: self._hashes[native_id] for native_id in ids if native_id in self._hashes}

    def known_ids(self) -> Iterator[str]:
        return iter(list(self._hashes))

    def store(self, records: Sequence[NativeRecord], deleted_ids: Sequence[str]) -> None:
        for record in records:
            if record.version is not None:
                self._hashes[record.native_id] = record.version
        for native_id in deleted_ids:
            self._hashes.pop(native_id, None)

    def copy(self) -> MemorySnapshotStore:
        return MemorySnapshotStore(self._hashes)


@dataclass
class Changes:
    """Everything one run of ``read_changes`` returned, pages merged, as the engine would store it."""

    records: dict[str, NativeRecord] = field(default_factory=dict)
    deleted_ids: set[str] = field(default_factory=set)
    cursor: JsonValue = None
    page_cursors: list[JsonValue] = field(default_factory=list)
    page_ids: list[list[str]] = field(default_factory=list)
    snapshots_before_page: list[MemorySnapshotStore] = field(default_factory=list)


def live_ids(connector: Connector, entity: str) -> list[str]:
    """The ids of every live record, as ``read_all`` shows them."""
    return [record.native_id for page in connector.read_all(entity) for record in page]


def drain_changes(connector: Connector, entity: str, cursor: JsonValue, snapshots: MemorySnapshotStore) -> Changes:
    """Read changes since ``cursor`` to the end, storing each page the way the engine does."""
    changes = Changes(cursor=cursor)
    for page in connector.read_changes(entity, cursor, snapshots):
        json.dumps(page.cursor)  # a cursor must survive the state store
        changes.snapshots_before_page.append(snapshots.copy())
        snapshots.store(page.records, page.deleted_ids)
        for record in page.records:
            changes.records[record.native_id] = record
            changes.deleted_ids.discard(record.native_id)
        changes.deleted_ids.update(page.deleted_ids)
        changes.cursor = page.cursor
        changes.page_cursors.append(page.cursor)
        changes.page_ids.append([record.native_id for record in page.records])
    return changes


class ConnectorContract:
    """The behaviour every connector owes the sync engine. Subclass it as ``Test...``."""

    entity: ClassVar[str] = "contact"
    page_size: ClassVar[int] = 3

    # --- what a subclass provides ------------------------------------------------------
    @pytest.fixture
    def connector(self) -> Iterator[Connector]:
        raise NotImplementedError("the contract needs a `connector` fixture")

    @pytest.fixture
    def backdoor(self) -> BackDoor:
        raise NotImplementedError("the contract needs a `backdoor` fixture")

    def new_record(self, name: str, email: str | None = None, city: str | None = None) -> dict[str, Any]:
        """Native fields of a record to create; add what else the system needs (an id ...)."""
        return {"name": name, "email": email, "city": city}

    def missing_id(self) -> str:
        """A native id no record has."""
        return "987654321"

    def settle(self) -> None:
        """Wait until a later change gets a different version (systems with coarse time stamps)."""

    # --- helpers -----------------------------------------------------------------------
    def create(self, connector: Connector, *records: dict[str, Any]) -> list[NativeRecord]:
        return connector.create(self.entity, list(records))

    def caps(self, connector: Connector) -> Capabilities:
        return connector.capabilities(self.entity)

    @staticmethod
    def token() -> str:
        return uuid.uuid4().hex[:8]

    @staticmethod
    def contract_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
        return {name: fields.get(name) for name in CONTRACT_FIELDS}

    # --- health and description --------------------------------------------------------
    def test_check_reports_ok(self, connector: Connector) -> None:
        description = connector.check()
        assert isinstance(description, str) and description.strip()

    def test_capabilities_describe_the_entity(self, connector: Connector) -> None:
        assert self.entity in connector.entities()
        caps = self.caps(connector)
        assert isinstance(caps.change_detection, ChangeDetection)
        assert caps.batch_size >= 1

    # --- create and read ---------------------------------------------------------------
    def test_create_returns_ids_and_versions_in_order(self, connector: Connector) -> None:
        tag = self.token()
        wanted = [self.new_record(f"Person {tag} {n}", f"p{n}.{tag}@example.org", "Berlin") for n in range(4)]
        created = self.create(connector, *wanted)
        assert [self.contract_fields(r.fields) for r in created] == [self.contract_fields(w) for w in wanted]
        ids = [record.native_id for record in created]
        assert all(isinstance(native_id, str) and native_id for native_id in ids)
        assert len(set(ids)) == len(ids)
        if self.caps(connector).conditional_writes:
            assert all(record.version for record in created)

    def test_create_nothing_returns_nothing(self, connector: Connector) -> None:
        assert connector.create(self.entity, []) == []

    def test_get_returns_what_was_created(self, connector: Connector) -> None:
        created = self.create(connector, self.new_record("Greta Garbo", "greta@example.org", "Stockholm"))[0]
        found = connector.get(self.entity, [created.native_id, self.missing_id()])
        assert set(found) == {created.native_id}
        assert self.contract_fields(found[created.native_id].fields) == self.contract_fields(created.fields)
        assert found[created.native_id].version == created.version

    def test_read_all_pages_through_every_record_in_a_stable_order(self, connector: Connector) -> None:
        count = self.page_size * 2 + 1
        created = self.create(connector, *(self.new_record(f"Page {n:02d}") for n in range(count)))
        pages = list(connector.read_all(self.entity, page_size=self.page_size))
        assert len(pages) >= 2, "more records than one page must come in more than one page"
        assert all(len(page) <= self.page_size for page in pages)
        order = [record.native_id for page in pages for record in page]
        assert len(order) == len(set(order)), "a record came twice"
        assert set(order) == {record.native_id for record in created}
        again = [
            record.native_id for page in connector.read_all(self.entity, page_size=self.page_size) for record in page
        ]
        assert again == order
        by_id = {record.native_id: record for page in pages for record in page}
        for record in created:
            assert self.contract_fields(by_id[record.native_id].fields) == self.contract_fields(record.fields)

    def test_read_all_lists_every_live_record(self, connector: Connector) -> None:
        created = self.create(connector, *(self.new_record(f"Id {n}") for n in range(self.page_size + 2)))
        assert sorted(live_ids(connector, self.entity)) == sorted(record.native_id for record in created)

    # --- changes -----------------------------------------------------------------------
    def test_read_changes_from_the_start_returns_everything_then_nothing_new(self, connector: Connector) -> None:
        created = self.create(connector, *(self.new_record(f"Change {n}") for n in range(self.page_size * 2 + 1)))
        snapshots = MemorySnapshotStore()
        first = drain_changes(connector, self.entity, None, snapshots)
        assert set(first.records) == {record.native_id for record in created}
        for record in created:
            assert first.records[record.native_id].version == record.version
        second = drain_changes(connector, self.entity, first.cursor, snapshots)
        for native_id, record in second.records.items():
            # Re-reads of the overlap window are allowed; they must be the same versions.
            assert native_id in first.records
            assert record.version == first.records[native_id].version
        assert not second.deleted_ids

    def test_read_changes_misses_no_change_made_after_the_cursor(
        self, connector: Connector, backdoor: BackDoor
    ) -> None:
        kept, changed = self.create(connector, self.new_record("Kept Same"), self.new_record("Will Change"))
        snapshots = MemorySnapshotStore()
        cursor = drain_changes(connector, self.entity, None, snapshots).cursor
        self.settle()
        backdoor.update(changed.native_id, {"city": "Hamburg"})
        inserted = backdoor.insert(self.new_record("Came Later", "later@example.org", "Bremen"))
        after = drain_changes(connector, self.entity, cursor, snapshots)
        assert after.records[changed.native_id].fields["city"] == "Hamburg"
        assert after.records[changed.native_id].version != changed.version
        assert after.records[inserted].fields["name"] == "Came Later"
        if kept.native_id in after.records:
            assert after.records[kept.native_id].version == kept.version
        # ... and from there on, nothing new again.
        settled = drain_changes(connector, self.entity, after.cursor, snapshots)
        for native_id, record in settled.records.items():
            assert record.version == after.records[native_id].version

    def test_resuming_from_any_page_cursor_misses_nothing(self, connector: Connector) -> None:
        self.create(connector, *(self.new_record(f"Resume {n}") for n in range(self.page_size * 3 + 1)))
        full = drain_changes(connector, self.entity, None, MemorySnapshotStore())
        for index, cursor in enumerate(full.page_cursors):
            later_ids = {native_id for ids in full.page_ids[index + 1 :] for native_id in ids}
            # The engine stored pages 0..index (and their snapshot hashes), then stopped.
            stored = full.snapshots_before_page[index].copy()
            stored.store([full.records[i] for i in full.page_ids[index]], [])
            resumed = drain_changes(connector, self.entity, cursor, stored)
            assert later_ids <= set(resumed.records), f"resuming after page {index} missed records"

    def test_own_update_reads_back_with_the_version_it_returned(self, connector: Connector) -> None:
        created = self.create(connector, self.new_record("Echo Test", city="Ulm"))[0]
        snapshots = MemorySnapshotStore()
        cursor = drain_changes(connector, self.entity, None, snapshots).cursor
        self.settle()
        updated = connector.update(self.entity, created.native_id, {"city": "Neu-Ulm"}, created.version)
        after = drain_changes(connector, self.entity, cursor, snapshots)
        # The engine recognises its own writes by version, so what it reads must match.
        assert after.records[created.native_id].version == updated.version

    def test_current_cursor_means_now(self, connector: Connector, backdoor: BackDoor) -> None:
        created = self.create(connector, *(self.new_record(f"Before {n}") for n in range(2)))
        snapshots = MemorySnapshotStore()
        if self.caps(connector).change_detection is ChangeDetection.SNAPSHOT:
            snapshots.store(created, [])  # an initial load records the hashes it saw
        cursor = connector.current_cursor(self.entity)
        json.dumps(cursor)
        self.settle()
        inserted = backdoor.insert(self.new_record("After Cursor"))
        after = drain_changes(connector, self.entity, cursor, snapshots)
        assert inserted in after.records

    # --- update ------------------------------------------------------------------------
    def test_update_is_a_patch(self, connector: Connector, backdoor: BackDoor) -> None:
        created = self.create(connector, self.new_record("Paula Patch", "paula@example.org", "Köln"))[0]
        self.settle()
        updated = connector.update(self.entity, created.native_id, {"city": "Bonn"}, created.version)
        assert updated.native_id == created.native_id
        assert self.contract_fields(updated.fields) == {
            "name": "Paula Patch",
            "email": "paula@example.org",
            "city": "Bonn",
        }
        raw = backdoor.read(created.native_id)
        assert raw is not None
        assert self.contract_fields(raw) == self.contract_fields(updated.fields)
        assert connector.get(self.entity, [created.native_id])[created.native_id].version == updated.version
        if self.caps(connector).conditional_writes:
            assert updated.version != created.version

    def test_update_leaves_fields_changed_elsewhere_alone(self, connector: Connector, backdoor: BackDoor) -> None:
        created = self.create(connector, self.new_record("Two Writers", "two@example.org", "Mainz"))[0]
        self.settle()
        backdoor.update(created.native_id, {"email": "new@example.org"})
        current = connector.get(self.entity, [created.native_id])[created.native_id]
        connector.update(self.entity, created.native_id, {"city": "Wiesbaden"}, current.version)
        raw = backdoor.read(created.native_id)
        assert raw is not None
        assert self.contract_fields(raw) == {
            "name": "Two Writers",
            "email": "new@example.org",
            "city": "Wiesbaden",
        }

    def test_update_with_a_stale_version_raises_and_writes_nothing(
        self, connector: Connector, backdoor: BackDoor
    ) -> None:
        if not self.caps(connector).conditional_writes:
            pytest.skip("the connector declares no conditional writes")
        created = self.create(connector, self.new_record("Stale Stella", "stella@example.org", "Trier"))[0]
        self.settle()
        backdoor.update(created.native_id, {"name": "Changed Elsewhere"})
        with pytest.raises(StaleVersion):
            connector.update(self.entity, created.native_id, {"city": "Koblenz"}, created.version)
        raw = backdoor.read(created.native_id)
        assert raw is not None
        assert self.contract_fields(raw) == {
            "name": "Changed Elsewhere",
            "email": "stella@example.org",
            "city": "Trier",
        }

    def test_update_of_a_missing_record_raises_not_found(self, connector: Connector) -> None:
        with pytest.raises(RecordNotFound):
            connector.update(self.entity, self.missing_id(), {"city": "Nirgendwo"}, None)

    # --- delete ------------------------------------------------------------------------
    def test_delete_removes_the_record_and_deletions_are_detected(
        self, connector: Connector, backdoor: BackDoor
    ) -> None:
        mine, theirs, stays = self.create(
            connector,
            self.new_record("Delete Mine"),
            self.new_record("Delete Theirs"),
            self.new_record("Stays"),
        )
        snapshots = MemorySnapshotStore()
        cursor = drain_changes(connector, self.entity, None, snapshots).cursor
        self.settle()
        connector.delete(self.entity, mine.native_id, mine.version)
        backdoor.delete(theirs.native_id)
        assert backdoor.read(mine.native_id) is None
        assert connector.get(self.entity, [mine.native_id, theirs.native_id]) == {}
        assert set(live_ids(connector, self.entity)) == {stays.native_id}
        if self.caps(connector).reports_deletions:
            after = drain_changes(connector, self.entity, cursor, snapshots)
            assert {mine.native_id, theirs.native_id} <= after.deleted_ids
            assert stays.native_id not in after.deleted_ids
        with pytest.raises(RecordNotFound):
            connector.update(self.entity, mine.native_id, {"city": "Jenseits"}, None)

    def test_delete_with_a_stale_version_raises_and_keeps_the_record(
        self, connector: Connector, backdoor: BackDoor
    ) -> None:
        if not self.caps(connector).conditional_writes:
            pytest.skip("the connector declares no conditional writes")
        created = self.create(connector, self.new_record("Keep Me", city="Speyer"))[0]
        self.settle()
        backdoor.update(created.native_id, {"city": "Worms"})
        with pytest.raises(StaleVersion):
            connector.delete(self.entity, created.native_id, created.version)
        raw = backdoor.read(created.native_id)
        assert raw is not None and raw["city"] == "Worms"

    def test_delete_of_a_missing_record_raises_not_found(self, connector: Connector) -> None:
        with pytest.raises(RecordNotFound):
            connector.delete(self.entity, self.missing_id(), None)

    # --- find ----------------------------------------------------------------------------
    def test_find_by_criteria(self, connector: Connector) -> None:
        tag = self.token()
        anna, bernd, _clara, dora = self.create(
            connector,
            self.new_record(f"Anna {tag}", f"anna.{tag}@example.org", "Köln"),
            self.new_record(f"Bernd {tag}", f"bernd.{tag}@example.org", "Köln"),
            self.new_record(f"Clara {tag}", f"clara.{tag}@example.org", "Bonn"),
            self.new_record(f"Dora {tag}", f"dora.{tag}@example.org", None),
        )

        def ids(criteria: Mapping[str, Any], limit: int = 10) -> set[str]:
            return {record.native_id for record in connector.find(self.entity, criteria, limit=limit)}

        assert ids({"email": f"anna.{tag}@example.org"}) == {anna.native_id}
        assert ids({"city": "Köln"}) == {anna.native_id, bernd.native_id}
        assert ids({"city": "Köln", "name": f"Bernd {tag}"}) == {bernd.native_id}
        assert ids({"city": None, "name": f"Dora {tag}"}) == {dora.native_id}
        assert ids({"name": f"Nobody {tag}"}) == set()
        assert len(ids({"city": "Köln"}, limit=1)) == 1

    # --- text ----------------------------------------------------------------------------
    def test_unicode_round_trips(self, connector: Connector, backdoor: BackDoor) -> None:
        name = "Jürgen Größe-Öztürk ÄÖÜ äöü ß ẞ"
        email = "jürgen@müller-straße.example"
        city = "Zoë 🎉 👩‍💻 Łódź 東京"
        created = self.create(connector, self.new_record(name, email, city))[0]
        expected = {"name": name, "email": email, "city": city}
        assert self.contract_fields(created.fields) == expected
        assert (
            self.contract_fields(connector.get(self.entity, [created.native_id])[created.native_id].fields) == expected
        )
        raw = backdoor.read(created.native_id)
        assert raw is not None and self.contract_fields(raw) == expected
        assert {r.native_id for r in connector.find(self.entity, {"city": city})} == {created.native_id}
        updated = connector.update(self.entity, created.native_id, {"name": "Ærøskøbing 🦄"}, created.version)
        assert updated.fields["name"] == "Ærøskøbing 🦄"
        inserted = backdoor.insert(self.new_record("Straßenbahn 🚋", city="Görlitz"))
        read = {record.native_id: record for page in connector.read_all(self.entity) for record in page}
        assert read[inserted].fields["name"] == "Straßenbahn 🚋"
        assert read[inserted].fields["city"] == "Görlitz"

    # --- missing records -------------------------------------------------------------------
    def test_get_of_a_missing_record_returns_nothing(self, connector: Connector) -> None:
        assert connector.get(self.entity, [self.missing_id()]) == {}

"""The ``sql`` connector: one table per entity in PostgreSQL, MariaDB/MySQL or SQLite.

Settings: ``url`` (SQLAlchemy URL; plain ``postgresql://`` and ``mysql://`` get psycopg 3 and
PyMySQL), ``password`` (injected into the URL so the URL itself can live in the config file) and
``schema``. Per-entity options are listed in :data:`ENTITY_OPTIONS`.

Three ways to see changes, chosen by the options of an entity:

* ``changed`` with ``changed_kind: timestamp`` (default): keyset pages over ``(changed, id)``
  starting ``overlap_seconds`` before the cursor, so rows sharing the cursor's value and rows
  that committed late are read again rather than missed.
* ``changed`` with ``changed_kind: row_version``: the same over a globally growing number kept by
  the database (trigger or sequence); ``overlap_versions`` plays the role of the time overlap.
* no ``changed``: a full scan whose rows are hashed and compared with the previous scan's hashes.

Writes are conditional: the row is locked (``SELECT ... FOR UPDATE``; on SQLite the transaction
starts with ``BEGIN IMMEDIATE``), its version is computed exactly as it was when the caller read
it and compared as a string, and only then is the patch written. Comparing rendered versions in
Python rather than ``WHERE changed = :expected`` in SQL keeps the check exact whatever the
column's storage format (SQLite keeps timestamps as text in more than one format, so an equality
on the bound value can fail on an unchanged row) and it serves snapshot mode the same way.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Connection, Engine, Row, make_url

from einklang.connectors.base import (
    Capabilities,
    ChangeDetection,
    ChangePage,
    ConfigurationError,
    Connector,
    ConnectorError,
    JsonValue,
    NativeRecord,
    RecordNotFound,
    RecordRejected,
    SnapshotStore,
    StaleVersion,
    SystemUnavailable,
    chunked,
)
from einklang.sql_bulk import can_copy, copy_rows

SETTINGS = frozenset({"url", "password", "schema"})

ENTITY_OPTIONS = frozenset(
    {
        "table",
        "id",
        "changed",
        "changed_kind",
        "set_changed",
        "deleted",
        "deleted_value",
        "overlap_seconds",
        "overlap_versions",
        "page_size",
        "correlation",
        "archive",
        "generated_id",
    }
)

DEFAULT_PAGE_SIZE = 1000
# Enough for the bind-parameter limits of every supported backend (SQLite: 32766).
ID_CHUNK = 500

_DRIVER_FOR_PLAIN_URL = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

# Marks a transaction that will write; on SQLite it must take the write lock up front so that
# the version read at its start is still the row's version when the UPDATE runs.
_WRITE_OPTION = "einklang_write"

_CHANGE_KEY_LABEL = "_einklang_change_key"
# SQLite's default limit on bound parameters per statement since 3.32 (999 before).
_SQLITE_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


@dataclass(frozen=True)
class ArchiveRule:
    """How the sync engine archives a record in this table instead of deleting it."""

    column: str
    value: Any


@dataclass(frozen=True)
class SqlEntityOptions:
    table: str
    id: str
    changed: str | None = None
    changed_kind: ChangeDetection = ChangeDetection.TIMESTAMP
    set_changed: bool = False
    deleted: str | None = None
    deleted_value: Any = True
    overlap_seconds: float = 2.0
    overlap_versions: int = 0
    page_size: int | None = None
    correlation: str | None = None
    archive: ArchiveRule | None = None
    generated_id: bool | None = None  # None: decided from the reflected id column

    @property
    def change_detection(self) -> ChangeDetection:
        return self.changed_kind if self.changed else ChangeDetection.SNAPSHOT

    @classmethod
    def parse(cls, system: str, entity: str, raw: Mapping[str, Any]) -> SqlEntityOptions:
        def fail(message: str) -> ConfigurationError:
            return ConfigurationError(f"entity {entity!r}: {message}", system=system)

        unknown = sorted(set(raw) - ENTITY_OPTIONS)
        if unknown:
            known = ", ".join(sorted(ENTITY_OPTIONS))
            raise fail(f"unknown option {', '.join(map(repr, unknown))} (sql knows: {known})")
        for required in ("table", "id"):
            if not isinstance(raw.get(required), str) or not raw[required]:
                raise fail(
                    f"option {required!r} is required and names a {required} column"
                    if required == "id"
                    else f"option {required!r} is required"
                )
        for name in ("changed", "deleted", "correlation"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise fail(f"option {name!r} must be a column name")

        try:
            kind = ChangeDetection(raw.get("changed_kind", "timestamp"))
        except ValueError:
            kind = None
        if kind not in (ChangeDetection.TIMESTAMP, ChangeDetection.ROW_VERSION):
            raise fail(f"option 'changed_kind' must be timestamp or row_version, not {raw['changed_kind']!r}")
        if "changed_kind" in raw and not raw.get("changed"):
            raise fail("option 'changed_kind' needs option 'changed'")

        set_changed = raw.get("set_changed", kind is ChangeDetection.TIMESTAMP and bool(raw.get("changed")))
        if not isinstance(set_changed, bool):
            raise fail("option 'set_changed' must be true or false")
        if set_changed and not raw.get("changed"):
            raise fail("option 'set_changed' needs option 'changed'")
        if set_changed and kind is ChangeDetection.ROW_VERSION:
            # A per-row counter is no change cursor, and a table-wide maximum + 1 computed here
            # would race with every other writer: only the database can hand out row versions.
            raise fail(
                "set_changed cannot be used with changed_kind row_version; "
                "the database must maintain the row version (trigger or sequence default)"
            )

        overlap = raw.get("overlap_seconds", 2)
        if isinstance(overlap, bool) or not isinstance(overlap, int | float) or overlap < 0:
            raise fail("option 'overlap_seconds' must be a number >= 0")
        overlap_versions = raw.get("overlap_versions", 0)
        if isinstance(overlap_versions, bool) or not isinstance(overlap_versions, int) or overlap_versions < 0:
            raise fail("option 'overlap_versions' must be an integer >= 0")
        page_size = raw.get("page_size")
        if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1):
            raise fail("option 'page_size' must be a positive integer")
        generated_id = raw.get("generated_id")
        if generated_id is not None and not isinstance(generated_id, bool):
            raise fail("option 'generated_id' must be true or false")

        archive = None
        if raw.get("archive") is not None:
            spec = raw["archive"]
            if not isinstance(spec, Mapping) or set(spec) != {"column", "value"} or not isinstance(spec["column"], str):
                raise fail("option 'archive' must be {column: <column>, value: <value>}")
            archive = ArchiveRule(spec["column"], spec["value"])

        return cls(
            table=raw["table"],
            id=raw["id"],
            changed=raw.get("changed"),
            changed_kind=kind,
            set_changed=set_changed,
            deleted=raw.get("deleted"),
            deleted_value=raw.get("deleted_value", True),
            overlap_seconds=float(overlap),
            overlap_versions=overlap_versions,
            page_size=page_size,
            correlation=raw.get("correlation"),
            archive=archive,
            generated_id=generated_id,
        )


@dataclass(frozen=True)
class _BoundEntity:
    """An entity's options checked against its reflected table."""

    name: str
    options: SqlEntityOptions
    table: sa.Table
    id_column: sa.Column[Any]
    changed_column: sa.Column[Any] | None
    # What change cursors compare and order by: the column itself, or on SQLite its stored text
    # (see _change_key).
    changed_key: sa.ColumnElement[Any] | None
    deleted_column: sa.Column[Any] | None
    generated_id: bool
    id_python_type: type | None

    def live(self) -> sa.ColumnElement[bool]:
        """Rows not flagged deleted; a NULL flag counts as live."""
        if self.deleted_column is None:
            return sa.true()
        return sa.or_(self.deleted_column != self.options.deleted_value, self.deleted_column.is_(None))

    def flagged_deleted(self, row: Row[Any]) -> bool:
        if self.deleted_column is None:
            return False
        return bool(row._mapping[self.deleted_column.name] == self.options.deleted_value)

    def native_id(self, row: Row[Any]) -> str:
        return str(row._mapping[self.id_column.name])

    def id_value(self, native_id: str) -> Any:
        """The id as the column's Python type, or None when it cannot be one (no such row)."""
        wanted = self.id_python_type
        if wanted is None or wanted is str:
            return native_id
        try:
            if wanted is int:
                return int(native_id)
            if wanted is uuid.UUID:
                return uuid.UUID(native_id)
            if wanted is Decimal:
                return Decimal(native_id)
        except ValueError:
            return None
        return native_id

    def column(self, name: str, *, system: str, purpose: str) -> sa.Column[Any]:
        return _require_column(self.table, name, system=system, entity=self.name, purpose=purpose)


class SqlConnector(Connector):
    """Reads and writes the configured tables of one SQL database."""

    def __init__(self, system: str, settings: Mapping[str, Any], entities: Mapping[str, Mapping[str, Any]]):
        super().__init__(system, settings, entities)
        unknown = sorted(set(self.settings) - SETTINGS)
        if unknown:
            raise ConfigurationError(
                f"unknown setting {', '.join(map(repr, unknown))} (sql knows: {', '.join(sorted(SETTINGS))})",
                system=system,
            )
        self.url = _connection_url(system, self.settings)
        self.schema: str | None = self.settings.get("schema")
        self.options = {name: SqlEntityOptions.parse(system, name, raw) for name, raw in self.entity_options.items()}
        self._engine: Engine | None = None
        self._bound: dict[str, _BoundEntity] = {}
        self._sequences: dict[str, str | None] = {}  # entity -> sequence of its generated key

    # --- description -------------------------------------------------------------------
    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def entity_config(self, entity: str) -> SqlEntityOptions:
        try:
            return self.options[entity]
        except KeyError:
            known = ", ".join(self.options) or "none"
            raise ConfigurationError(f"unknown entity {entity!r} (configured: {known})", system=self.system) from None

    def capabilities(self, entity: str) -> Capabilities:
        options = self.entity_config(entity)
        mode = options.change_detection
        return Capabilities(
            change_detection=mode,
            reports_deletions=options.deleted is not None or mode is ChangeDetection.SNAPSHOT,
            conditional_writes=True,
            batch_size=options.page_size or 500,
            correlation_field=options.correlation,
            modified_field=options.changed,
        )

    # --- health ------------------------------------------------------------------------
    def check(self) -> str:
        for entity in self.options:
            self._entity(entity)
        with self._connect() as conn:
            server = _server_description(conn)
        count = len(self.options)
        return f"{server}, {count} table{'s' if count != 1 else ''} ok"

    # --- reading -----------------------------------------------------------------------
    def read_all(self, entity: str, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[list[NativeRecord]]:
        bound = self._entity(entity)
        size = self._page_size(bound, page_size)
        for rows in self._id_pages(bound, sa.select(bound.table).where(bound.live()), size):
            yield self._records(bound, rows)

    def list_ids(self, entity: str) -> Iterator[str]:
        bound = self._entity(entity)
        size = self._page_size(bound, DEFAULT_PAGE_SIZE * 10)
        for rows in self._id_pages(bound, sa.select(bound.id_column).where(bound.live()), size):
            for row in rows:
                yield str(row[0])

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        bound = self._entity(entity)
        found: dict[str, NativeRecord] = {}
        wanted = [value for value in (bound.id_value(i) for i in native_ids) if value is not None]
        for chunk in chunked(wanted, ID_CHUNK):
            statement = sa.select(bound.table).where(bound.id_column.in_(chunk), bound.live())
            with self._connect() as conn:
                rows = self._run(conn, statement).all()
            for row in rows:
                record = self._record(bound, row)
                found[record.native_id] = record
        return found

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        bound = self._entity(entity)
        conditions = [bound.live()]
        for name, value in criteria.items():
            column = bound.column(name, system=self.system, purpose="find criterion")
            conditions.append(column.is_(None) if value is None else column == value)
        statement = sa.select(bound.table).where(*conditions).order_by(bound.id_column).limit(limit)
        with self._connect() as conn:
            rows = self._run(conn, statement).all()
        return self._records(bound, rows)

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        bound = self._entity(entity)
        if bound.changed_column is None:
            yield from self._read_snapshot_changes(bound, cursor, snapshots)
        else:
            yield from self._read_cursor_changes(bound, bound.changed_column, cursor)

    def count(self, entity: str) -> int | None:
        bound = self._entity(entity)
        with self._connect() as conn:
            return int(
                self._run(conn, sa.select(sa.func.count()).select_from(bound.table).where(bound.live())).scalar_one()
            )

    def current_cursor(self, entity: str) -> JsonValue:
        bound = self._entity(entity)
        if bound.changed_column is None:
            # Snapshot mode has no position: what is new is decided by the stored hashes.
            return {"snapshot_after": None}
        with self._connect() as conn:
            latest = self._run(conn, sa.select(sa.func.max(bound.changed_key))).scalar()
        if latest is None:
            return None
        return {"changed": _json_scalar(latest), "id": None}

    # --- writing -----------------------------------------------------------------------
    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        bound = self._entity(entity)
        if not records:
            return []
        checked: set[frozenset[str]] = set()
        for index, record in enumerate(records):
            names = frozenset(record)
            if names not in checked:
                for name in names:
                    bound.column(name, system=self.system, purpose="field of a created record")
                checked.add(names)
            if not bound.generated_id and record.get(bound.id_column.name) is None:
                raise RecordRejected(
                    f"entity {entity!r}: record #{index} has no value for id column {bound.id_column.name!r} "
                    "(the database does not generate it)",
                    system=self.system,
                )
        try:
            with self._write_transaction() as conn:
                created = self._insert(conn, bound, records)
                if self._returning_is_complete(bound) and all(record.version for record in created):
                    return created
                return self._reread_in_order(conn, bound, created)
        except (sa_exc.IntegrityError, sa_exc.DataError) as error:
            culprit, reason = self._find_rejected_record(bound, records, error)
            raise RecordRejected(
                f"entity {entity!r}: insert refused: {reason}", system=self.system, record_id=culprit
            ) from None

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        bound = self._entity(entity)
        values: dict[str, Any] = {}
        for name, value in patch.items():
            bound.column(name, system=self.system, purpose="field of an update")
            values[name] = value
        if bound.id_column.name in values and str(values[bound.id_column.name]) != native_id:
            raise RecordRejected(
                f"entity {entity!r}: the id column {bound.id_column.name!r} cannot be changed",
                system=self.system,
                record_id=native_id,
            )
        try:
            with self._write_transaction() as conn:
                key = self._lock_and_check(conn, bound, native_id, expected_version)
                if (
                    bound.options.set_changed
                    and bound.changed_column is not None
                    and (bound.changed_column.name not in values)
                ):
                    values[bound.changed_column.name] = self._now(conn, bound.changed_column)
                if values:
                    self._run(conn, sa.update(bound.table).where(bound.id_column == key).values(values))
                row = self._run(conn, sa.select(bound.table).where(bound.id_column == key)).one()
                return self._record(bound, row)
        except (sa_exc.IntegrityError, sa_exc.DataError) as error:
            raise RecordRejected(
                f"entity {entity!r}: update refused: {_reason(error)}",
                system=self.system,
                record_id=native_id,
            ) from None

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        bound = self._entity(entity)
        try:
            with self._write_transaction() as conn:
                key = self._lock_and_check(conn, bound, native_id, expected_version)
                where = bound.id_column == key
                if bound.deleted_column is None:
                    self._run(conn, sa.delete(bound.table).where(where))
                    return
                # The table keeps deleted rows flagged; deleting physically would hide the
                # deletion from every other reader of the flag.
                values: dict[str, Any] = {bound.deleted_column.name: bound.options.deleted_value}
                if bound.options.set_changed and bound.changed_column is not None:
                    values[bound.changed_column.name] = self._now(conn, bound.changed_column)
                self._run(conn, sa.update(bound.table).where(where).values(values))
        except (sa_exc.IntegrityError, sa_exc.DataError) as error:
            raise RecordRejected(
                f"entity {entity!r}: delete refused: {_reason(error)}",
                system=self.system,
                record_id=native_id,
            ) from None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- change detection --------------------------------------------------------------
    def _read_cursor_changes(
        self, bound: _BoundEntity, changed: sa.Column[Any], cursor: JsonValue
    ) -> Iterator[ChangePage]:
        size = self._page_size(bound, DEFAULT_PAGE_SIZE)
        table = bound.table
        position = cursor if isinstance(cursor, Mapping) else {}
        if cursor is not None and not isinstance(cursor, Mapping):
            raise ConfigurationError(
                f"entity {bound.name!r}: not a cursor of this connector: {cursor!r}", system=self.system
            )

        # Rows whose change column is NULL were never stamped; they can only be ordered by id, so
        # the first read takes them before the stamped rows, and later reads only the new ones.
        emitted = False
        lower_bound: Any = None
        if "changed" in position:
            lower_bound = self._overlap_start(bound, position["changed"])
        else:
            nulls_after = position.get("nulls_after")
            start = bound.id_value(str(nulls_after)) if nulls_after is not None else None
            statement = sa.select(table).where(changed.is_(None))
            for rows in self._id_pages(bound, statement, size, start_after=start):
                emitted = True
                last_id = _json_scalar(rows[-1]._mapping[bound.id_column.name])
                yield self._change_page(bound, rows, {"nulls_after": last_id})

        key = bound.changed_key if bound.changed_key is not None else changed
        after: tuple[Any, Any] | None = None
        while True:
            statement = sa.select(table, key.label(_CHANGE_KEY_LABEL)).where(changed.is_not(None))
            if after is not None:
                # ``key >= after`` is implied by the OR but lets the database seek the index to the
                # position instead of scanning it from the start (SQLite does not use an index for
                # the OR alone: every page after the first read the whole table's index)
                statement = statement.where(
                    key >= after[0], sa.or_(key > after[0], sa.and_(key == after[0], bound.id_column > after[1]))
                )
            elif lower_bound is not None:
                statement = statement.where(key >= lower_bound)
            statement = statement.order_by(key, bound.id_column).limit(size)
            with self._connect() as conn:
                stamped_rows = self._run(conn, statement).all()
            if not stamped_rows:
                break
            last = stamped_rows[-1]._mapping
            after = (last[_CHANGE_KEY_LABEL], last[bound.id_column.name])
            emitted = True
            yield self._change_page(
                bound, stamped_rows, {"changed": _json_scalar(after[0]), "id": _json_scalar(after[1])}
            )
            if len(stamped_rows) < size:
                break
        if not emitted:
            # Nothing at all: hand the cursor back unchanged so the caller still has a position.
            yield ChangePage(cursor=cursor)

    def _overlap_start(self, bound: _BoundEntity, stored: Any) -> Any:
        """Where a read from a stored cursor begins: the cursor's value minus the overlap."""
        assert bound.changed_column is not None
        text_key = bound.changed_key is not None and bound.changed_key is not bound.changed_column
        value = stored if text_key else _from_json_scalar(stored, bound.changed_column)
        options = bound.options
        if options.changed_kind is ChangeDetection.ROW_VERSION:
            return value - options.overlap_versions if isinstance(value, int | float | Decimal) else value
        overlap = timedelta(seconds=options.overlap_seconds)
        if isinstance(value, datetime):
            return value - overlap
        if isinstance(value, int | float):
            return value - options.overlap_seconds  # epoch seconds
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return value
            # Keep the stored text's date/time separator so that text comparison stays in order.
            separator = value[10] if len(value) > 10 else " "
            return (parsed - overlap).isoformat(sep=separator)
        return value

    def _change_page(self, bound: _BoundEntity, rows: Sequence[Row[Any]], cursor: JsonValue) -> ChangePage:
        page = ChangePage(cursor=cursor)
        live = []
        for row in rows:
            if bound.flagged_deleted(row):
                page.deleted_ids.append(bound.native_id(row))
            else:
                live.append(row)
        page.records = self._records(bound, live)
        return page

    def _read_snapshot_changes(
        self, bound: _BoundEntity, cursor: JsonValue, snapshots: SnapshotStore | None
    ) -> Iterator[ChangePage]:
        size = self._page_size(bound, DEFAULT_PAGE_SIZE)
        resume_after = cursor.get("snapshot_after") if isinstance(cursor, Mapping) else None
        start = bound.id_value(str(resume_after)) if resume_after is not None else None
        for rows in self._id_pages(bound, sa.select(bound.table), size, start_after=start):
            ids = [bound.native_id(row) for row in rows]
            previous = snapshots.hashes(ids) if snapshots is not None else {}
            page = ChangePage(cursor={"snapshot_after": _json_scalar(rows[-1]._mapping[bound.id_column.name])})
            for native_id, row in zip(ids, rows, strict=True):
                if bound.flagged_deleted(row):
                    if native_id in previous:
                        page.deleted_ids.append(native_id)
                    continue
                record = self._record(bound, row)
                if previous.get(native_id) != record.version:
                    page.records.append(record)
            if page.records or page.deleted_ids:
                yield page

        # Hard deletions: ids of the previous scan that are no longer live rows. Checked against
        # the database chunk by chunk so that memory stays at one chunk however large the table.
        final_cursor = {"snapshot_after": None}
        gone: list[str] = []
        if snapshots is not None:
            for known in chunked(snapshots.known_ids(), ID_CHUNK):
                keys = [key for key in (bound.id_value(i) for i in known) if key is not None]
                with self._connect() as conn:
                    live = {
                        str(value)
                        for value in self._run(
                            conn, sa.select(bound.id_column).where(bound.id_column.in_(keys), bound.live())
                        ).scalars()
                    }
                gone.extend(native_id for native_id in known if native_id not in live)
                if len(gone) >= size:
                    # The scan is complete, so a restart after this page only repeats the
                    # (idempotent) deletion check.
                    yield ChangePage(deleted_ids=gone, cursor=final_cursor)
                    gone = []
        yield ChangePage(deleted_ids=gone, cursor=final_cursor)

    # --- records and versions ----------------------------------------------------------
    def _record(self, bound: _BoundEntity, row: Row[Any]) -> NativeRecord:
        return self._records(bound, [row])[0]

    def _records(self, bound: _BoundEntity, rows: Sequence[Row[Any]]) -> list[NativeRecord]:
        if not rows:
            return []
        # The column names once per result, dict(zip(...)) per row: Row._asdict() and even
        # Row._fields cost several times more, and the bulk paths do this for every row.
        names = rows[0]._fields
        id_name = bound.id_column.name
        records = []
        for row in rows:
            fields = dict(zip(names, row, strict=True))
            fields.pop(_CHANGE_KEY_LABEL, None)
            records.append(NativeRecord(str(fields[id_name]), _version(bound, fields), fields))
        return records

    # --- writing helpers ---------------------------------------------------------------
    def _insert(
        self, conn: Connection, bound: _BoundEntity, records: Sequence[Mapping[str, Any]]
    ) -> list[NativeRecord]:
        """Insert in order; full records when RETURNING is available, else records with ids only."""
        statement = sa.insert(bound.table)
        changed = bound.changed_column
        stamp = bound.options.set_changed and changed is not None and changed.server_default is None
        results: list[NativeRecord] = []
        dialect = conn.dialect
        # executemany needs one key set per statement; runs of equally shaped records keep order.
        for run in _runs_of_equal_keys(records):
            keys = set(run[0])
            run_statement = statement
            constants: dict[str, Any] = {}
            if stamp and changed is not None and changed.name not in keys:
                constants[changed.name] = self._now(conn, changed)
                run_statement = statement.values(constants)
            parameters = [dict(r) for r in run]
            id_name = bound.id_column.name
            if id_name not in keys and (preallocated := self._preallocate_ids(conn, bound, len(run))):
                for values, new_id in zip(parameters, preallocated, strict=True):
                    values[id_name] = new_id
                keys.add(id_name)
            if id_name in keys and len(parameters) > 1 and can_copy(dialect):
                # COPY, then create() reads the rows back by id: several times faster on
                # PostgreSQL than a batched INSERT ... RETURNING, with the same defaults and triggers.
                if stamp and changed is not None and changed.name not in keys:
                    # now() is the transaction's start time: the value the INSERT would have stored
                    stamped = self._run(conn, sa.select(sa.cast(sa.func.now(), changed.type))).scalar_one()
                    for values in parameters:
                        values[changed.name] = stamped
                columns = list(parameters[0])
                copy_rows(conn, bound.table, columns, [tuple(values[c] for c in columns) for values in parameters])
                results.extend(NativeRecord(str(values[id_name]), None, {}) for values in parameters)
            elif id_name in keys and dialect.insert_executemany_returning:
                # The ids are known here, so returned rows are matched by id and the database
                # may return them in any order: that keeps the insert fully batched on
                # PostgreSQL, where ordered RETURNING with a reflected serial key goes row by row.
                returned = self._run(conn, run_statement.returning(*bound.table.c), parameters).all()
                by_id = {record.native_id: record for record in self._records(bound, returned)}
                # An id the database normalised (e.g. a padded CHAR) gets an id-only record and
                # is read again by create().
                results.extend(
                    by_id.get(str(values[id_name])) or NativeRecord(str(values[id_name]), None, {})
                    for values in parameters
                )
            elif dialect.insert_executemany_returning and (
                matched := self._insert_and_match(conn, bound, run_statement, parameters, constants)
            ):
                results.extend(matched)
            elif dialect.insert_executemany_returning_sort_by_parameter_order:
                # row at a time where SQLAlchemy finds no sentinel column to order the rows by
                returning = run_statement.returning(*bound.table.c, sort_by_parameter_order=True)
                rows = self._run(conn, returning, parameters).all()
                results.extend(self._records(bound, rows))
            elif not bound.generated_id or bound.id_column.name in keys:
                self._run(conn, run_statement, parameters)
                results.extend(NativeRecord(str(r[bound.id_column.name]), None, {}) for r in run)
            else:
                # No RETURNING (MySQL): the generated key is only known one row at a time.
                for record in run:
                    result = self._run(conn, run_statement, dict(record))
                    key = result.inserted_primary_key
                    if key is None or bound.id_column.name not in key._mapping:
                        raise ConfigurationError(
                            f"entity {bound.name!r}: cannot learn the generated id of {bound.table.fullname!r}",
                            system=self.system,
                        )
                    results.append(NativeRecord(str(key._mapping[bound.id_column.name]), None, {}))
        return results

    def _insert_and_match(
        self,
        conn: Connection,
        bound: _BoundEntity,
        statement: sa.Insert,
        parameters: list[dict[str, Any]],
        constants: dict[str, Any],
    ) -> list[NativeRecord] | None:
        """One batched INSERT ... RETURNING, its rows matched to the parameters by their values.

        Batched RETURNING does not promise the order of the rows (SQLite), so each returned row
        is paired with the parameter set whose every sent value it holds: in order when the
        order holds (the usual case, checked row by row), else by value. Rows with identical
        values are interchangeable. If any row cannot be paired (the database changed a value on
        the way in), the batch is undone and None returned for the caller's row-at-a-time path.
        """
        if len(parameters) < 2:
            return None
        columns = list(parameters[0])
        savepoint = conn.begin_nested()
        try:
            if conn.dialect.name == "sqlite":
                records = self._insert_returning_sqlite(conn, bound, parameters, constants)
            else:
                records = self._records(bound, self._run(conn, statement.returning(*bound.table.c), parameters).all())
        except BaseException:
            savepoint.rollback()
            raise
        key = itemgetter(*columns)  # every sent column is a table column, so RETURNING * holds it
        if len(records) == len(parameters) and all(
            key(record.fields) == key(values) for record, values in zip(records, parameters, strict=True)
        ):
            savepoint.commit()
            return records
        waiting: dict[Any, list[NativeRecord]] = {}
        matched = []
        try:
            for record in reversed(records):
                waiting.setdefault(key(record.fields), []).append(record)
            for values in parameters:
                candidates = waiting.get(key(values))
                if not candidates:
                    break
                matched.append(candidates.pop())
        except TypeError:  # an unhashable value (a JSON column): pair row by row instead
            matched = []
        if len(matched) != len(parameters):
            savepoint.rollback()
            return None
        savepoint.commit()
        return matched

    def _insert_returning_sqlite(
        self, conn: Connection, bound: _BoundEntity, parameters: list[dict[str, Any]], constants: dict[str, Any]
    ) -> list[NativeRecord]:
        """Multi-row INSERT ... RETURNING written out for the driver, with SQLAlchemy's own type
        processors applied on the way in and out: its insertmanyvalues costs ~10 µs per row here.

        ``constants``: values for every row (the change stamp, a Python value on SQLite).
        """
        dialect = conn.dialect
        table = bound.table
        columns = list(parameters[0]) + [name for name in constants if name not in parameters[0]]
        binders = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
        readers = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in table.c]
        preparer = dialect.identifier_preparer
        names = ", ".join(preparer.quote(table.c[name].name) for name in columns)
        returning = ", ".join(preparer.quote(column.name) for column in table.c)
        row_marks = "(" + ", ".join(["?"] * len(columns)) + ")"
        per_statement = max(1, _SQLITE_MAX_VARIABLES // len(columns))
        column_names = [column.name for column in table.c]
        to_read = [(name, read) for name, read in zip(column_names, readers, strict=True) if read is not None]
        id_name = bound.id_column.name
        sent = itemgetter(*parameters[0]) if len(parameters[0]) > 1 else lambda values: (values[columns[0]],)
        fixed = tuple(constants[name] for name in columns[len(parameters[0]) :])
        plain = all(bind is None for bind in binders)
        records = []
        for start in range(0, len(parameters), per_statement):
            chunk = parameters[start : start + per_statement]
            flat: list[Any] = []
            for values in chunk:
                row_values = sent(values) + fixed
                if plain:
                    flat.extend(row_values)
                else:
                    flat.extend(
                        bind(value) if bind is not None and value is not None else value
                        for bind, value in zip(binders, row_values, strict=True)
                    )
            sql = (
                f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES "
                f"{', '.join([row_marks] * len(chunk))} RETURNING {returning}"
            )
            for row in self._run_driver(conn, sql, tuple(flat)).all():
                fields = dict(zip(column_names, row, strict=True))
                for name, read in to_read:
                    value = fields[name]
                    if value is not None:
                        fields[name] = read(value)
                records.append(NativeRecord(str(fields[id_name]), _version(bound, fields), fields))
        return records

    def _preallocate_ids(self, conn: Connection, bound: _BoundEntity, count: int) -> list[Any]:
        """On PostgreSQL, draw the generated ids from the key's sequence in one round trip."""
        if conn.dialect.name != "postgresql" or not bound.generated_id:
            return []
        identity = bound.id_column.identity
        if identity is not None and identity.always:
            return []  # GENERATED ALWAYS refuses explicit ids
        if bound.name not in self._sequences:
            self._sequences[bound.name] = self._run(
                conn,
                sa.select(sa.func.pg_get_serial_sequence(bound.table.fullname, bound.id_column.name)),
            ).scalar()
        sequence = self._sequences[bound.name]
        if sequence is None:
            return []
        draw = sa.select(sa.func.nextval(sa.cast(sa.literal(sequence), sa.Text))).select_from(
            sa.func.generate_series(1, count)
        )
        return list(self._run(conn, draw).scalars())

    def _returning_is_complete(self, bound: _BoundEntity) -> bool:
        """Whether rows from INSERT ... RETURNING already show the stored state.

        A change column the database maintains may be set by an AFTER trigger, which RETURNING
        does not show (SQLite), so those rows are read again.
        """
        dialect = self._get_engine().dialect
        if not dialect.insert_executemany_returning_sort_by_parameter_order:
            return False
        return bound.changed_column is None or bound.options.set_changed

    def _reread_in_order(
        self, conn: Connection, bound: _BoundEntity, created: list[NativeRecord]
    ) -> list[NativeRecord]:
        by_id: dict[str, NativeRecord] = {}
        postgres = conn.dialect.name == "postgresql"
        # PostgreSQL takes the whole batch as one array parameter (= ANY), one short query
        for chunk in chunked([record.native_id for record in created], 10_000 if postgres else ID_CHUNK):
            keys = [bound.id_value(native_id) for native_id in chunk]
            if postgres:
                wanted = sa.bindparam("ids", keys, type_=postgresql.ARRAY(bound.id_column.type))
                condition = bound.id_column == sa.func.any(wanted)
            else:
                condition = bound.id_column.in_(keys)
            for record in self._records(bound, self._run(conn, sa.select(bound.table).where(condition)).all()):
                by_id[record.native_id] = record
        return [by_id[record.native_id] for record in created]

    def _find_rejected_record(
        self, bound: _BoundEntity, records: Sequence[Mapping[str, Any]], batch_error: Exception
    ) -> tuple[str | None, str]:
        """Name the record that made a batch fail by replaying it row by row, then undo all of it."""
        try:
            with self._connect() as conn, conn.begin() as transaction:
                try:
                    for index, record in enumerate(records):
                        try:
                            with conn.begin_nested():
                                self._insert(conn, bound, [record])
                        except (sa_exc.IntegrityError, sa_exc.DataError) as error:
                            label = record.get(bound.id_column.name)
                            culprit = str(label) if label is not None else f"#{index}"
                            return culprit, _reason(error)
                finally:
                    transaction.rollback()
        except ConnectorError:
            pass
        return None, _reason(batch_error)

    def _lock_and_check(
        self, conn: Connection, bound: _BoundEntity, native_id: str, expected_version: str | None
    ) -> Any:
        """Lock the live row and compare its version; returns the id as the column's type."""
        key = bound.id_value(native_id)
        row = None
        if key is not None:
            statement = sa.select(bound.table).where(bound.id_column == key, bound.live()).with_for_update()
            row = self._run(conn, statement).first()
        if row is None:
            raise RecordNotFound(f"entity {bound.name!r}: no such record", system=self.system, record_id=native_id)
        if expected_version is not None:
            current = _version(bound, dict(row._mapping))
            if current != expected_version:
                raise StaleVersion(
                    f"entity {bound.name!r}: version is {current}, the write expected {expected_version}",
                    system=self.system,
                    record_id=native_id,
                )
        return key

    def _now(self, conn: Connection, column: sa.Column[Any]) -> Any:
        """The new value of a change column the connector maintains.

        On a server database the database's own clock is used (NOW / CURRENT_TIMESTAMP), in the
        session time zone the database's defaults and triggers use too: change cursors compare
        values written by every client of that database, so they must all come from one clock —
        einklang's host clock may be minutes off and its writes would then sort before changes
        that really happened earlier, and be missed by other readers. SQLite runs in-process, so
        its clock is this host's; Python's UTC time is used there (as SQLite's CURRENT_TIMESTAMP
        is UTC) because SQLAlchemy then stores it in the same text format it binds in comparisons.
        """
        python_type = _python_type(column)
        if python_type in (int, float, Decimal):
            now = time.time()  # epoch seconds; a numeric timestamp column has no SQL clock to call
            return int(now) if python_type is int else now
        if python_type is not datetime:
            raise ConfigurationError(
                f"column {column.name!r} holds {python_type.__name__ if python_type else 'unknown'} values; "
                "set_changed needs a date-time or numeric column (or set set_changed: false)",
                system=self.system,
            )
        dialect = conn.dialect.name
        if dialect == "postgresql":
            return sa.func.now()
        if dialect in ("mysql", "mariadb"):
            fractional_digits = getattr(column.type, "fsp", None) or 0
            return sa.func.now(sa.literal_column(str(int(fractional_digits))))
        timezone_aware = bool(getattr(column.type, "timezone", False))
        stamp = datetime.now(UTC)
        return stamp if timezone_aware else stamp.replace(tzinfo=None)

    # --- plumbing ----------------------------------------------------------------------
    def _page_size(self, bound: _BoundEntity, requested: int) -> int:
        return min(requested, bound.options.page_size) if bound.options.page_size else requested

    def _id_pages(
        self, bound: _BoundEntity, statement: sa.Select[Any], size: int, start_after: Any = None
    ) -> Iterator[list[Row[Any]]]:
        """Keyset pages ordered by id: each page is one short query, so only a page is held."""
        after = start_after
        while True:
            page = statement
            if after is not None:
                page = page.where(bound.id_column > after)
            page = page.order_by(bound.id_column).limit(size)
            with self._connect() as conn:
                rows = list(self._run(conn, page).all())
            if not rows:
                return
            yield rows
            if len(rows) < size:
                return
            after = rows[-1]._mapping[bound.id_column.name]

    def _entity(self, entity: str) -> _BoundEntity:
        if entity not in self._bound:
            self._bound[entity] = self._bind(entity, self.entity_config(entity))
        return self._bound[entity]

    def _bind(self, entity: str, options: SqlEntityOptions) -> _BoundEntity:
        metadata = sa.MetaData(schema=self.schema)
        with self._connect() as conn:
            try:
                table = sa.Table(options.table, metadata, autoload_with=conn)
            except sa_exc.NoSuchTableError:
                where = f" in schema {self.schema!r}" if self.schema else ""
                raise ConfigurationError(
                    f"entity {entity!r}: table {options.table!r} not found{where}", system=self.system
                ) from None

        def column(option: str, name: str | None) -> sa.Column[Any] | None:
            if name is None:
                return None
            return _require_column(table, name, system=self.system, entity=entity, purpose=f"option {option!r}")

        id_column = column("id", options.id)
        assert id_column is not None
        for key_column in table.primary_key.columns:
            # SQLite reflects INTEGER PRIMARY KEY as nullable; insertmanyvalues then refuses it as
            # the sentinel that keeps RETURNING rows in parameter order. A key is never NULL.
            key_column.nullable = False
        changed = column("changed", options.changed)
        deleted = column("deleted", options.deleted)
        column("correlation", options.correlation)
        column("archive", options.archive.column if options.archive else None)
        numeric = changed is not None and _python_type(changed) in (int, Decimal, float)
        if changed is not None and options.changed_kind is ChangeDetection.ROW_VERSION and not numeric:
            raise ConfigurationError(
                f"entity {entity!r}: row_version column {changed.name!r} is not numeric", system=self.system
            )
        generated = options.generated_id
        if generated is None:
            generated = table.autoincrement_column is id_column
        return _BoundEntity(
            name=entity,
            options=options,
            table=table,
            id_column=id_column,
            changed_column=changed,
            changed_key=self._change_key(changed),
            deleted_column=deleted,
            generated_id=generated,
            id_python_type=_python_type(id_column),
        )

    def _change_key(self, changed: sa.Column[Any] | None) -> sa.ColumnElement[Any] | None:
        """The expression change cursors compare: the column, or on SQLite its stored text.

        SQLite keeps date-times as text, and not always in one format: SQLAlchemy writes
        ``2024-05-01 10:00:00.123000`` but triggers write ``2024-05-01 10:00:00`` or ``...:00.123``.
        A bound date-time is rendered in SQLAlchemy's format, so equal instants in another format
        compare as different text and a keyset page could step over rows sharing the cursor's
        instant. Comparing the stored text with stored text keeps the order exact.
        """
        if changed is None:
            return None
        if self._get_engine().dialect.name == "sqlite" and _python_type(changed) in (datetime, date):
            return sa.type_coerce(changed, sa.String())
        return changed

    def _get_engine(self) -> Engine:
        if self._engine is None:
            engine = sa.create_engine(self.url, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                _take_over_sqlite_transactions(engine)
            self._engine = engine
        return self._engine

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self._translated(), self._get_engine().connect() as conn:
            yield conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (sa_exc.IntegrityError, sa_exc.DataError):
            raise  # a record-level refusal: the write methods name the record
        except sa_exc.SQLAlchemyError as error:
            raise self._translate(error) from None

    @contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        with self._connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def _run(self, conn: Connection, statement: sa.Executable, parameters: Any = None) -> sa.CursorResult[Any]:
        with self._translated():
            return conn.execute(statement, parameters)

    def _run_driver(self, conn: Connection, sql: str, parameters: tuple[Any, ...]) -> sa.CursorResult[Any]:
        with self._translated():
            return conn.exec_driver_sql(sql, parameters)

    def _translate(self, error: sa_exc.SQLAlchemyError) -> ConnectorError:
        if isinstance(error, ConnectorError):
            return error
        reason = _reason(error)
        if isinstance(error, sa_exc.ProgrammingError):
            # Missing privileges or a schema that changed under us: retrying will not help.
            return ConfigurationError(f"{reason} (database {self.safe_url})", system=self.system)
        if isinstance(error, sa_exc.DBAPIError | sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return SystemUnavailable(f"database {self.safe_url} unavailable: {reason}", system=self.system)
        return ConfigurationError(f"{reason} (database {self.safe_url})", system=self.system)


# --- module helpers ---------------------------------------------------------------------


def _connection_url(system: str, settings: Mapping[str, Any]) -> URL:
    raw = settings.get("url")
    if not isinstance(raw, str) or not raw:
        raise ConfigurationError("setting 'url' is required (a SQLAlchemy database URL)", system=system)
    try:
        url = make_url(raw)
    except (sa_exc.ArgumentError, ValueError):
        # The text may contain a password, so it is not repeated.
        raise ConfigurationError("setting 'url' is not a valid database URL", system=system) from None
    url = url.set(drivername=_DRIVER_FOR_PLAIN_URL.get(url.drivername, url.drivername))
    if settings.get("password") is not None:
        url = url.set(password=str(settings["password"]))
    if url.get_backend_name() in ("mysql", "mariadb") and "charset" not in url.query:
        # MySQL's "utf8" is three bytes wide and refuses emoji.
        url = url.update_query_dict({"charset": "utf8mb4"})
    backend = url.get_backend_name()
    if backend not in ("postgresql", "mysql", "mariadb", "sqlite"):
        raise ConfigurationError(
            f"unsupported database {backend!r} in {url.render_as_string(hide_password=True)} "
            "(sql supports postgresql, mysql/mariadb and sqlite)",
            system=system,
        )
    return url


def _take_over_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, start SQLite transactions.

    pysqlite starts a transaction only at the first write, so a read-then-write is not atomic;
    writes here begin with BEGIN IMMEDIATE, which takes the write lock before the version read.
    """

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        writes = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _server_description(conn: Connection) -> str:
    dialect = conn.dialect
    version = ".".join(str(part) for part in (dialect.server_version_info or ())[:3])
    if dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    if dialect.name == "postgresql":
        return f"PostgreSQL {'.'.join(version.split('.')[:2])}"
    if getattr(dialect, "is_mariadb", False):
        return f"MariaDB {version}"
    return f"MySQL {version}"


def _require_column(table: sa.Table, name: str, *, system: str, entity: str, purpose: str) -> sa.Column[Any]:
    try:
        return table.c[name]
    except KeyError:
        raise ConfigurationError(
            f"entity {entity!r}: table {table.fullname!r} has no column {name!r} ({purpose}); "
            f"columns: {', '.join(table.c.keys())}",
            system=system,
        ) from None


def _python_type(column: sa.Column[Any]) -> type | None:
    try:
        python_type: type = column.type.python_type
    except NotImplementedError:
        return None
    return python_type


def _runs_of_equal_keys(records: Sequence[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    run: list[Mapping[str, Any]] = []
    for record in records:
        if run and record.keys() != run[0].keys():
            yield run
            run = []
        run.append(record)
    if run:
        yield run


def _reason(error: BaseException) -> str:
    """The driver's message without SQLAlchemy's SQL and parameter dump (it may hold personal data)."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error)
    return " ".join(text.split()) or type(error).__name__


def _version(bound: _BoundEntity, fields: Mapping[str, Any]) -> str:
    if bound.changed_column is not None:
        value = fields[bound.changed_column.name]
        if value is not None:
            return value.isoformat() if isinstance(value, datetime | date) else str(value)
    # No change column (snapshot mode) or a row never stamped: the content is the version.
    return row_hash(fields)


# Types whose repr() spells out both the type and the exact value, deterministically. A row of
# only these is hashed from the repr of its items, which runs in C; the initial load computes a
# hash per created row in snapshot mode, and the Python-level tagging below costs several times
# more. (The two encodings never meet: a given table always takes the same path.)
_REPR_EXACT_TYPES = frozenset(
    {str, int, bool, float, type(None), Decimal, datetime, date, dt_time, timedelta, bytes, uuid.UUID}
)


def row_hash(fields: Mapping[str, Any]) -> str:
    """A stable, type-aware digest of a row: equal only if every column has an equal value."""
    items = sorted(fields.items())
    if _REPR_EXACT_TYPES.issuperset(map(type, fields.values())):
        canonical = repr(items)
    else:
        canonical = json.dumps([[name, _tagged(value)] for name, value in items], ensure_ascii=False)
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _tagged(value: Any) -> Any:
    # The tag keeps 1, True, "1" and 1.0 apart, and Decimal/float rendering exact.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value) if math.isfinite(value) else str(value)]
    if isinstance(value, Decimal):
        return ["decimal", str(value)]
    if isinstance(value, datetime | date):
        return [type(value).__name__, value.isoformat()]
    if isinstance(value, bytes | bytearray | memoryview):
        return ["bytes", bytes(value).hex()]
    return [type(value).__name__, str(value)]


def _json_scalar(value: Any) -> JsonValue:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _from_json_scalar(stored: Any, column: sa.Column[Any]) -> Any:
    python_type = _python_type(column)
    if isinstance(stored, str):
        if python_type is datetime:
            return datetime.fromisoformat(stored)
        if python_type is date:
            return date.fromisoformat(stored)
        if python_type is Decimal:
            return Decimal(stored)
    return stored

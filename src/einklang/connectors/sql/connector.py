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

Writes are conditional (``update_many`` does the same for many rows in one transaction,
see :mod:`einklang.connectors.sql.updates`): the row is locked (``SELECT ... FOR UPDATE``; on SQLite the transaction
starts with ``BEGIN IMMEDIATE``), its version is computed exactly as it was when the caller read
it and compared as a string, and only then is the patch written. Comparing rendered versions in
Python rather than ``WHERE changed = :expected`` in SQL keeps the check exact whatever the
column's storage format (SQLite keeps timestamps as text in more than one format, so an equality
on the bound value can fail on an unchanged row) and it serves snapshot mode the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from einklang.connectors.base import (
    Capabilities,
    ChangeDetection,
    ChangePage,
    JsonValue,
    NativeRecord,
    RecordRejected,
    SnapshotStore,
    chunked,
)
from einklang.connectors.sql.changes import SqlChangeReading
from einklang.connectors.sql.dialect import error_reason, server_description
from einklang.connectors.sql.inserts import SqlInserting
from einklang.connectors.sql.table import DEFAULT_PAGE_SIZE, ID_CHUNK, json_scalar
from einklang.connectors.sql.updates import SqlUpdating


class SqlConnector(SqlChangeReading, SqlInserting, SqlUpdating):
    """Reads and writes the configured tables of one SQL database."""

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

    def native_fields(self, entity: str) -> set[str]:
        """The columns of the entity's table, as reflected (once per connector)."""
        return set(self._entity(entity).table.c.keys())

    # --- health ------------------------------------------------------------------------
    def check(self) -> str:
        for entity in self.options:
            self._entity(entity)
        with self._connect() as conn:
            server = server_description(conn)
        count = len(self.options)
        return f"{server}, {count} table{'s' if count != 1 else ''} ok"

    # --- reading -----------------------------------------------------------------------
    def read_all(self, entity: str, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[list[NativeRecord]]:
        bound = self._entity(entity)
        size = self._page_size(bound, page_size)
        for rows in self._id_pages(bound, sa.select(bound.table).where(bound.live()), size):
            yield self._records(bound, rows)

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
        return {"changed": json_scalar(latest), "id": None}

    # --- writing -----------------------------------------------------------------------
    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        bound = self._entity(entity)
        if not records:
            return []
        records = [bound.typed(record) for record in records]
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
        for name, value in bound.typed(patch).items():
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
                    bound.options.stamps_changed
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
                f"entity {entity!r}: update refused: {error_reason(error)}",
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
                if bound.options.stamps_changed and bound.changed_column is not None:
                    values[bound.changed_column.name] = self._now(conn, bound.changed_column)
                self._run(conn, sa.update(bound.table).where(where).values(values))
        except (sa_exc.IntegrityError, sa_exc.DataError) as error:
            raise RecordRejected(
                f"entity {entity!r}: delete refused: {error_reason(error)}",
                system=self.system,
                record_id=native_id,
            ) from None

    def archive(self, entity: str, native_id: str, expected_version: str | None) -> None:
        rule = self.entity_config(entity).archive
        if rule is None:
            super().archive(entity, native_id, expected_version)  # refuses: no archive column
            return
        self.update(entity, native_id, rule.patch(), expected_version)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

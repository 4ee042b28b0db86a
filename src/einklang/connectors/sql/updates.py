"""Conditional updates of many rows in one transaction, the version check kept per row.

One transaction per chunk: the chunk's live rows are locked (``SELECT ... FOR UPDATE``; on
SQLite the transaction starts with ``BEGIN IMMEDIATE``), each row's version is computed and
compared exactly as a single ``update`` does, the rows still at their expected version are
written with one ``executemany`` per set of changed columns, and read back. A row whose
version moved, or that is gone, is reported as that row's outcome and left untouched. If the
database refuses the chunk (a constraint, a bad value), it is rolled back and each row is
written on its own, so that the refusal names its record and the others still go through.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from einklang.connectors.base import (
    RecordNotFound,
    RecordRejected,
    RecordUpdate,
    StaleVersion,
    UpdateOutcome,
    chunked,
)
from einklang.connectors.sql.database import SqlDatabase
from einklang.connectors.sql.table import ID_CHUNK, BoundEntity

# a row of a chunk that passed the checks before the lock: (position in the chunk, id value, new values)
_Prepared = tuple[int, Any, dict[str, Any]]


class SqlUpdating(SqlDatabase):
    def update_many(self, entity: str, updates: Sequence[RecordUpdate]) -> Iterator[UpdateOutcome]:
        bound = self._entity(entity)
        for chunk in chunked(updates, ID_CHUNK):
            yield from self._update_chunk(bound, chunk)

    def _update_values(self, bound: BoundEntity, item: RecordUpdate) -> dict[str, Any]:
        """The patch as column values (unknown columns are a configuration error, as in ``update``)."""
        values: dict[str, Any] = {}
        for name, value in bound.typed(item.patch).items():
            bound.column(name, system=self.system, purpose="field of an update")
            values[name] = value
        if bound.id_column.name in values and str(values[bound.id_column.name]) != item.native_id:
            raise RecordRejected(
                f"entity {bound.name!r}: the id column {bound.id_column.name!r} cannot be changed",
                system=self.system,
                record_id=item.native_id,
            )
        return values

    def _update_chunk(self, bound: BoundEntity, chunk: Sequence[RecordUpdate]) -> list[UpdateOutcome]:
        outcomes: list[UpdateOutcome | None] = [None] * len(chunk)
        prepared: list[_Prepared] = []
        for position, item in enumerate(chunk):
            try:
                values = self._update_values(bound, item)
            except RecordRejected as refused:
                outcomes[position] = refused
                continue
            key = bound.id_value(item.native_id)
            if key is None:
                outcomes[position] = self._not_found(bound, item.native_id)
                continue
            prepared.append((position, key, values))
        if len({str(key) for _, key, _ in prepared}) < len(prepared):
            # the same record twice: the second write is checked against the first's version
            for position, _, _ in prepared:
                outcomes[position] = self._update_one(bound, chunk[position])
            return [outcome for outcome in outcomes if outcome is not None]
        try:
            with self._write_transaction() as conn:
                self._write_locked(conn, bound, chunk, prepared, outcomes)
        except (sa_exc.IntegrityError, sa_exc.DataError):
            # the chunk was rolled back as a whole: each row on its own, so the refusal names its record
            for position, _, _ in prepared:
                outcomes[position] = self._update_one(bound, chunk[position])
        return [outcome for outcome in outcomes if outcome is not None]

    def _write_locked(
        self,
        conn: Connection,
        bound: BoundEntity,
        chunk: Sequence[RecordUpdate],
        prepared: list[_Prepared],
        outcomes: list[UpdateOutcome | None],
    ) -> None:
        if not prepared:
            return
        locked = sa.select(bound.table).where(bound.id_column.in_([key for _, key, _ in prepared]), bound.live())
        rows = self._run(conn, locked.with_for_update()).all()
        current = {record.native_id: record for record in self._records(bound, rows)}
        writable: list[_Prepared] = []
        for position, key, values in prepared:
            item = chunk[position]
            found = current.get(str(key))
            if found is None:
                outcomes[position] = self._not_found(bound, item.native_id)
            elif item.expected_version is not None and found.version != item.expected_version:
                outcomes[position] = StaleVersion(
                    f"entity {bound.name!r}: version is {found.version}, the write expected {item.expected_version}",
                    system=self.system,
                    record_id=item.native_id,
                )
            else:
                writable.append((position, key, values))
        if not writable:
            return
        stamp: Any = None
        changed = bound.changed_column
        if bound.options.stamps_changed and changed is not None:
            stamp = self._now(conn, changed)
        for names, same_columns in _by_columns(writable).items():
            self._execute_updates(conn, bound, names, same_columns, stamp)
        written = sa.select(bound.table).where(bound.id_column.in_([key for _, key, _ in writable]))
        records = {record.native_id: record for record in self._records(bound, self._run(conn, written).all())}
        for position, key, _ in writable:
            outcomes[position] = records[str(key)]

    def _execute_updates(
        self,
        conn: Connection,
        bound: BoundEntity,
        names: tuple[str, ...],
        rows: list[_Prepared],
        stamp: Any,
    ) -> None:
        """One ``executemany`` for rows that change the same columns."""
        changed = bound.changed_column
        assignments: dict[str, Any] = {name: sa.bindparam(f"v{index}") for index, name in enumerate(names)}
        # the change column moves with every write einklang makes, unless the patch sets it
        stamp_bound = False
        if stamp is not None and changed is not None and changed.name not in names:
            if isinstance(stamp, sa.ColumnElement):  # the database's clock (NOW())
                assignments[changed.name] = stamp
            else:
                assignments[changed.name] = sa.bindparam("v_changed")
                stamp_bound = True
        if not assignments:
            return
        statement = sa.update(bound.table).where(bound.id_column == sa.bindparam("k_id")).values(assignments)
        parameters: list[dict[str, Any]] = []
        for _, key, values in rows:
            row: dict[str, Any] = {f"v{index}": values[name] for index, name in enumerate(names)}
            row["k_id"] = key
            if stamp_bound:
                row["v_changed"] = stamp
            parameters.append(row)
        self._run(conn, statement, parameters)

    def _update_one(self, bound: BoundEntity, item: RecordUpdate) -> UpdateOutcome:
        try:
            return self.update(bound.name, item.native_id, item.patch, item.expected_version)
        except (StaleVersion, RecordNotFound, RecordRejected) as refused:
            return refused

    def _not_found(self, bound: BoundEntity, native_id: str) -> RecordNotFound:
        return RecordNotFound(f"entity {bound.name!r}: no such record", system=self.system, record_id=native_id)


def _by_columns(rows: list[_Prepared]) -> dict[tuple[str, ...], list[_Prepared]]:
    groups: dict[tuple[str, ...], list[_Prepared]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row[2])), []).append(row)
    return groups

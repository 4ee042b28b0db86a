"""Batched inserts that come back as records, in order, on every supported database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from einklang.connectors.base import (
    ConfigurationError,
    ConnectorError,
    NativeRecord,
    chunked,
)
from einklang.connectors.sql.database import SqlDatabase
from einklang.connectors.sql.dialect import error_reason
from einklang.connectors.sql.table import ID_CHUNK, BoundEntity, record_version
from einklang.sql_bulk import can_copy, copy_rows

# SQLite's default limit on bound parameters per statement since 3.32 (999 before).
_SQLITE_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


class SqlInserting(SqlDatabase):
    def _insert(self, conn: Connection, bound: BoundEntity, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        """Insert in order; full records when RETURNING is available, else records with ids only."""
        statement = sa.insert(bound.table)
        changed = bound.changed_column
        stamp = bound.options.stamps_changed and changed is not None and changed.server_default is None
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
        bound: BoundEntity,
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
        self, conn: Connection, bound: BoundEntity, parameters: list[dict[str, Any]], constants: dict[str, Any]
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
                records.append(NativeRecord(str(fields[id_name]), record_version(bound, fields), fields))
        return records

    def _preallocate_ids(self, conn: Connection, bound: BoundEntity, count: int) -> list[Any]:
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

    def _returning_is_complete(self, bound: BoundEntity) -> bool:
        """Whether rows from INSERT ... RETURNING already show the stored state.

        A change column the database maintains may be set by an AFTER trigger, which RETURNING
        does not show (SQLite), so those rows are read again.
        """
        dialect = self._get_engine().dialect
        if not dialect.insert_executemany_returning_sort_by_parameter_order:
            return False
        return bound.changed_column is None or bound.options.stamps_changed

    def _reread_in_order(self, conn: Connection, bound: BoundEntity, created: list[NativeRecord]) -> list[NativeRecord]:
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
        self, bound: BoundEntity, records: Sequence[Mapping[str, Any]], batch_error: Exception
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
                            return culprit, error_reason(error)
                finally:
                    transaction.rollback()
        except ConnectorError:
            pass
        return None, error_reason(batch_error)


def _runs_of_equal_keys(records: Sequence[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    run: list[Mapping[str, Any]] = []
    for record in records:
        if run and record.keys() != run[0].keys():
            yield run
            run = []
        run.append(record)
    if run:
        yield run

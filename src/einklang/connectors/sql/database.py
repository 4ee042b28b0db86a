"""Connections, error translation, table binding and the locked version check of the sql connector."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, Row

from einklang.connectors.base import (
    ChangeDetection,
    ConfigurationError,
    Connector,
    ConnectorError,
    NativeRecord,
    RecordNotFound,
    StaleVersion,
    SystemUnavailable,
)
from einklang.connectors.sql.dialect import (
    WRITE_OPTION,
    connect_timeout_args,
    connection_url,
    error_reason,
    limit_mysql_handshake,
    take_over_sqlite_transactions,
)
from einklang.connectors.sql.options import SqlEntityOptions, SqlSettings
from einklang.connectors.sql.table import (
    CHANGE_KEY_LABEL,
    BoundEntity,
    column_python_type,
    record_version,
    require_column,
)


class SqlDatabase(Connector):
    """The plumbing every part of the sql connector shares: the engine, sessions, bound tables."""

    settings_model = SqlSettings
    entity_settings_model = SqlEntityOptions
    settings: SqlSettings
    entity_settings: Mapping[str, SqlEntityOptions]

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any] | BaseModel,
        entities: Mapping[str, Mapping[str, Any] | BaseModel],
    ) -> None:
        super().__init__(system, settings, entities)
        self.url = connection_url(self.settings)
        self.schema = self.settings.database_schema
        self.options = self.entity_settings
        self._engine: Engine | None = None
        self._bound: dict[str, BoundEntity] = {}
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

    # --- records and versions ----------------------------------------------------------
    def _record(self, bound: BoundEntity, row: Row[Any]) -> NativeRecord:
        return self._records(bound, [row])[0]

    def _records(self, bound: BoundEntity, rows: Sequence[Row[Any]]) -> list[NativeRecord]:
        if not rows:
            return []
        # The column names once per result, dict(zip(...)) per row: Row._asdict() and even
        # Row._fields cost several times more, and the bulk paths do this for every row.
        names = rows[0]._fields
        id_name = bound.id_column.name
        records = []
        for row in rows:
            fields = dict(zip(names, row, strict=True))
            fields.pop(CHANGE_KEY_LABEL, None)
            records.append(NativeRecord(str(fields[id_name]), record_version(bound, fields), fields))
        return records

    def _lock_and_check(
        self, conn: Connection, bound: BoundEntity, native_id: str, expected_version: str | None
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
            current = record_version(bound, dict(row._mapping))
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
        python_type = column_python_type(column)
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
    def _page_size(self, bound: BoundEntity, requested: int) -> int:
        return min(requested, bound.options.page_size) if bound.options.page_size else requested

    def _id_pages(
        self, bound: BoundEntity, statement: sa.Select[Any], size: int, start_after: Any = None
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

    def _entity(self, entity: str) -> BoundEntity:
        if entity not in self._bound:
            self._bound[entity] = self._bind(entity, self.entity_config(entity))
        return self._bound[entity]

    def _bind(self, entity: str, options: SqlEntityOptions) -> BoundEntity:
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
            return require_column(table, name, system=self.system, entity=entity, purpose=f"option {option!r}")

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
        numeric = changed is not None and column_python_type(changed) in (int, Decimal, float)
        if changed is not None and options.changed_kind is ChangeDetection.ROW_VERSION and not numeric:
            raise ConfigurationError(
                f"entity {entity!r}: row_version column {changed.name!r} is not numeric", system=self.system
            )
        generated = options.generated_id
        if generated is None:
            generated = table.autoincrement_column is id_column
        return BoundEntity(
            name=entity,
            options=options,
            table=table,
            id_column=id_column,
            changed_column=changed,
            changed_key=self._change_key(changed),
            deleted_column=deleted,
            generated_id=generated,
            id_python_type=column_python_type(id_column),
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
        if self._get_engine().dialect.name == "sqlite" and column_python_type(changed) in (datetime, date):
            return sa.type_coerce(changed, sa.String())
        return changed

    def _get_engine(self) -> Engine:
        if self._engine is None:
            connect_args = connect_timeout_args(self.url, self.settings.timeout)
            engine = sa.create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
            if engine.dialect.name == "sqlite":
                take_over_sqlite_transactions(engine)
            elif engine.dialect.name in ("mysql", "mariadb"):
                limit_mysql_handshake(engine)
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
            conn = conn.execution_options(**{WRITE_OPTION: True})
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
        reason = error_reason(error)
        if isinstance(error, sa_exc.ProgrammingError):
            # Missing privileges or a schema that changed under us: retrying will not help.
            return ConfigurationError(f"{reason} (database {self.safe_url})", system=self.system)
        if isinstance(error, sa_exc.DBAPIError | sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return SystemUnavailable(f"database {self.safe_url} unavailable: {reason}", system=self.system)
        return ConfigurationError(f"{reason} (database {self.safe_url})", system=self.system)

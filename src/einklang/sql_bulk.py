"""Many-row writes through the database driver: ``executemany``, or COPY on PostgreSQL.

SQLAlchemy Core processes every parameter of every row in Python (type processors, key
lookups); for a bulk path (the initial load) that costs several times more than the
database's own work. Here the statement is written once per batch, constant
values (timestamps) are converted once, and the rows go to the driver as plain tuples.
Callers pass values the driver takes as they are: str, int, None, and constants made with
:func:`driver_value`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect


def _placeholder(dialect: Dialect) -> str:
    style = dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise NotImplementedError(f"paramstyle {style!r} is not supported for bulk writes")


def insert_sql(dialect: Dialect, table: sa.Table, columns: Sequence[str]) -> str:
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(table.c[name].name) for name in columns)
    marks = ", ".join([_placeholder(dialect)] * len(columns))
    return f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ({marks})"


def insert_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (tuples in the order of ``columns``): COPY on PostgreSQL, else ``executemany``.

    psycopg's executemany still sends one statement per row (pipelined); COPY streams the rows
    in one command, several times faster, with the same defaults, constraints and triggers.
    """
    if not rows:
        return
    if can_copy(conn.dialect):
        copy_rows(conn, table, columns, rows)
        return
    conn.exec_driver_sql(insert_sql(conn.dialect, table, columns), list(rows))


def can_copy(dialect: Dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def copy_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    preparer = conn.dialect.identifier_preparer
    names = ", ".join(preparer.quote(table.c[name].name) for name in columns)
    statement = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN"
    import psycopg

    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:
        # as SQLAlchemy would raise it, so callers handle refusals (IntegrityError, ...) alike
        raise sa_exc.DBAPIError.instance(statement, None, error, psycopg.Error, dialect=conn.dialect) from error
    finally:
        cursor.close()


def driver_value(conn: Connection, column: sa.Column[Any], value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (e.g. SQLite stores datetimes as text)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process is not None and value is not None else value

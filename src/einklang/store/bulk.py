"""Many-row writes through the database driver's own ``executemany``.

SQLAlchemy Core processes every parameter of every row in Python (type processors, key
lookups); for the bulk paths (initial load, imports) that costs several times more than the
database's own work. Here a statement is compiled once per table and column list, constant
values (timestamps) are converted once, and the rows go to the driver as plain tuples.
Callers pass values the driver takes as they are: str, int, None, and constants made with
:func:`driver_value`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
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
    """INSERT ``rows`` (tuples in the order of ``columns``) in one driver ``executemany``."""
    if rows:
        conn.exec_driver_sql(insert_sql(conn.dialect, table, columns), list(rows))


def driver_value(conn: Connection, column: sa.Column[Any], value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (e.g. SQLite stores datetimes as text)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process is not None and value is not None else value

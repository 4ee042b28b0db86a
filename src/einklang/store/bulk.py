"""Bulk UPDATE of the state store's own tables: many rows, each found by its key columns.

SQLAlchemy's ``executemany`` of an UPDATE processes every row's parameters in Python and
psycopg still sends one statement per row. Here the values go to the driver as they are
(after the column types' bind processing, e.g. date-times as text on SQLite): on PostgreSQL as
one ``UPDATE ... FROM unnest(arrays)`` per chunk of rows (one array parameter per column),
elsewhere as one plain ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.store.state import chunks

# rows per statement on PostgreSQL (bounds the size of one statement's arrays)
VALUES_CHUNK = 5000


def update_rows(
    conn: Connection, table: sa.Table, keys: Sequence[str], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Per row (key values, then column values, in the order of ``keys`` and ``columns``): set the columns.

    The keys of ``rows`` must be distinct (PostgreSQL would apply only one of two rows for the same key).
    """
    if not rows:
        return
    dialect = conn.dialect
    names = [*keys, *columns]
    processors: list[Callable[[Any], Any] | None] = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    driver_rows = [
        tuple(
            value if process is None or value is None else process(value)
            for value, process in zip(row, processors, strict=True)
        )
        for row in rows
    ]
    preparer = dialect.identifier_preparer
    target = preparer.format_table(table)
    quoted = {name: preparer.quote(table.c[name].name) for name in names}
    if dialect.name == "postgresql":
        # one array per column: a short statement whatever the number of rows (psycopg parses
        # and prepares it once), the rows unnested and joined on their keys
        types = [dialect.type_compiler_instance.process(table.c[name].type) for name in names]
        arrays = ", ".join(f"CAST(%s AS {type_}[])" for type_ in types)
        assignments = ", ".join(f"{quoted[name]} = v.{quoted[name]}" for name in columns)
        matches = " AND ".join(f"{target}.{quoted[name]} = v.{quoted[name]}" for name in keys)
        sql = (
            f"UPDATE {target} SET {assignments} FROM unnest({arrays}) "
            f"AS v({', '.join(quoted[name] for name in names)}) WHERE {matches}"
        )
        for chunk in chunks(driver_rows, VALUES_CHUNK):
            conn.exec_driver_sql(sql, tuple(list(column) for column in zip(*chunk, strict=True)))
        return
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{quoted[name]} = {mark}" for name in columns)
    matches = " AND ".join(f"{quoted[name]} = {mark}" for name in keys)
    width = len(keys)
    conn.exec_driver_sql(
        f"UPDATE {target} SET {assignments} WHERE {matches}", [row[width:] + row[:width] for row in driver_rows]
    )

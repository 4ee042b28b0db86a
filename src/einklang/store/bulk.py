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

# for the bulk statement only, as settings of the transaction (``is_local``; an error ends the
# transaction and them with it): the settings before (read first: OFFSET 0 keeps the subquery
# from being merged into the outer query), then hash and merge joins off; afterwards restored
_NESTED_LOOP_ONLY = (
    "SELECT s.hash, s.merge, set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true) "
    "FROM (SELECT current_setting('enable_hashjoin') AS hash, current_setting('enable_mergejoin') AS merge "
    "OFFSET 0) AS s"
)
_JOINS_AS_BEFORE = "SELECT set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)"


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
        # each row is found through the key's unique index (a nested loop): the planner would
        # otherwise hash the whole table for a page of 500 rows once it holds some 100,000 rows
        # or less (100-450 ms per statement at 40,000 links, growing with the table)
        before = tuple(conn.exec_driver_sql(_NESTED_LOOP_ONLY).one()[:2])
        for chunk in chunks(driver_rows, VALUES_CHUNK):
            conn.exec_driver_sql(sql, tuple(list(column) for column in zip(*chunk, strict=True)))
        conn.exec_driver_sql(_JOINS_AS_BEFORE, before)
        return
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{quoted[name]} = {mark}" for name in columns)
    matches = " AND ".join(f"{quoted[name]} = {mark}" for name in keys)
    width = len(keys)
    conn.exec_driver_sql(
        f"UPDATE {target} SET {assignments} WHERE {matches}", [row[width:] + row[:width] for row in driver_rows]
    )

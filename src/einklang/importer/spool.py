"""What an import learns in numbers that grow with its input, kept on disk beside its rows.

A file of a million contacts can make a million candidate pairs (every pair with its reasons)
and hold back hundreds of thousands of records for review. Kept as Python objects, those alone
pass a gigabyte; so they go to tables of the import's temporary SQLite file
(:class:`einklang.importer.row_store.RowStore`) as they come, and are read back a batch at a
time, in the order they came or by the number they were given.

- :class:`PairLog`: candidate pairs in the matcher's order (best first), numbered from 1.
- :class:`Spool`: JSON values under an integer key (a person's number), for what a later step
  looks up about a few of them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from einklang.connectors.base import chunked
from einklang.match import CandidatePair

_WRITE_BATCH = 2000
_READ_BATCH = 2000
_LOOKUP_CHUNK = 500
"""Keys per ``IN (...)`` query: well below SQLite's limit on bound parameters."""


class PairLog:
    """Candidate pairs, appended in the order they come and numbered from 1.

    The pair's ids are stored as they are (row positions as integers, keys and native ids as
    text: SQLite keeps each value's type), its reasons as a JSON list.
    """

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self._db = db
        self._table = _table_name(name)
        db.execute(
            f"CREATE TABLE {self._table} (number INTEGER PRIMARY KEY, a, b, score REAL, verdict TEXT,"
            " reasons TEXT, weight REAL)"
        )
        self._pending: list[tuple[Any, ...]] = []
        self._count = 0
        self._indexed = False

    def add(self, pair: CandidatePair) -> int:
        """Keep ``pair``; its number."""
        self._count += 1
        self._pending.append(
            (
                self._count,
                pair.a_id,
                pair.b_id,
                pair.score,
                pair.verdict,
                json.dumps(pair.reasons, ensure_ascii=False),
                pair.match_weight,
            )
        )
        if len(self._pending) >= _WRITE_BATCH:
            self._flush()
        return self._count

    def __len__(self) -> int:
        return self._count

    def _flush(self) -> None:
        if self._pending:
            self._db.executemany(f"INSERT INTO {self._table} VALUES (?, ?, ?, ?, ?, ?, ?)", self._pending)
            self._pending = []

    def ids(self) -> Iterator[tuple[int, Any, Any, float]]:
        """(number, a id, b id, score) of every pair, best score first, then in the order added
        (the order of a stable sort by score: the matcher's own order)."""
        self._flush()
        cursor = self._db.execute(f"SELECT number, a, b, score FROM {self._table} ORDER BY score DESC, number")
        while batch := cursor.fetchmany(_READ_BATCH):
            yield from batch

    def get(self, numbers: Iterable[int]) -> dict[int, CandidatePair]:
        """The pairs with these numbers."""
        self._flush()
        found: dict[int, CandidatePair] = {}
        for chunk in chunked(numbers, _LOOKUP_CHUNK):
            marks = ",".join("?" * len(chunk))
            for number, a, b, score, verdict, reasons, weight in self._db.execute(
                f"SELECT number, a, b, score, verdict, reasons, weight FROM {self._table} WHERE number IN ({marks})",
                chunk,
            ):
                found[number] = CandidatePair(a, b, score, verdict, tuple(json.loads(reasons)), weight)
        return found

    def of_a(self, ids: Iterable[Any]) -> dict[Any, list[CandidatePair]]:
        """The pairs whose a id is one of ``ids``, grouped by it, each group in the order added."""
        self._flush()
        if not self._indexed:  # made once, after the pairs are in: cheaper than keeping it up
            self._db.execute(f"CREATE INDEX {self._table}_a ON {self._table} (a, number)")
            self._indexed = True
        found: dict[Any, list[CandidatePair]] = {}
        for chunk in chunked(ids, _LOOKUP_CHUNK):
            marks = ",".join("?" * len(chunk))
            for a, b, score, verdict, reasons, weight in self._db.execute(
                f"SELECT a, b, score, verdict, reasons, weight FROM {self._table} WHERE a IN ({marks})"
                " ORDER BY a, number",
                chunk,
            ):
                found.setdefault(a, []).append(CandidatePair(a, b, score, verdict, tuple(json.loads(reasons)), weight))
        return found


class Spool:
    """JSON values under integer keys; ``get`` reads back the ones asked for."""

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self._db = db
        self._table = _table_name(name)
        db.execute(f"CREATE TABLE {self._table} (key INTEGER PRIMARY KEY, value TEXT)")

    def put(self, key: int, value: Any) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO {self._table} VALUES (?, ?)", (key, json.dumps(value, ensure_ascii=False))
        )

    def get(self, keys: Iterable[int]) -> dict[int, Any]:
        found: dict[int, Any] = {}
        for chunk in chunked(keys, _LOOKUP_CHUNK):
            marks = ",".join("?" * len(chunk))
            for key, value in self._db.execute(f"SELECT key, value FROM {self._table} WHERE key IN ({marks})", chunk):
                found[key] = json.loads(value)
        return found


def _table_name(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a table name: {name!r}")
    return f"spool_{name}"

"""Where an import keeps its rows while it runs: a temporary SQLite file, not the heap.

An import needs every row twice or three times (to match them within the file, to merge the
rows of one person, to plan each person), but never all of them at once. Each row is written
here as it is read, under its position in the input (0, 1, 2, ...), and read back in that order,
or by position for the rows of one person. The file lives in a private temporary folder and is
deleted when the import ends.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from einklang.importer.incoming import IncomingRow
from einklang.importer.spool import PairLog, Spool

_READ_BATCH = 2000
_COLUMNS = "source, row, line, format, fields, fingerprint, name_derived"


class RowStore:
    """Rows of one import by position; ``add`` in input order, read back with ``rows``/``get``."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="einklang-import-")
        self._db = sqlite3.connect(Path(self._folder.name) / "rows.sqlite3")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(
            "CREATE TABLE rows (position INTEGER PRIMARY KEY, source TEXT, row INTEGER, line INTEGER,"
            " format TEXT, fields TEXT, fingerprint TEXT, name_derived INTEGER)"
        )
        self.count = 0

    def __enter__(self) -> RowStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()

    def pair_log(self, name: str) -> PairLog:
        """A new table of candidate pairs in this store's file."""
        return PairLog(self._db, name)

    def spool(self, name: str) -> Spool:
        """A new table of JSON values by integer key in this store's file."""
        return Spool(self._db, name)

    def add(self, rows: Sequence[IncomingRow]) -> int:
        """Store ``rows`` after the ones stored so far; returns the position of the first."""
        first = self.count
        self._db.executemany(
            f"INSERT INTO rows (position, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    first + offset,
                    row.source,
                    row.row,
                    row.line,
                    row.format,
                    json.dumps(row.values, ensure_ascii=False, separators=(",", ":")),
                    row.fingerprint,
                    int(row.name_derived),
                )
                for offset, row in enumerate(rows)
            ],
        )
        self.count += len(rows)
        return first

    def rows(self) -> Iterator[tuple[int, IncomingRow]]:
        """Every row with its position, in input order, a batch at a time underneath."""
        cursor = self._db.execute(f"SELECT position, {_COLUMNS} FROM rows ORDER BY position")
        while batch := cursor.fetchmany(_READ_BATCH):
            for position, *fields in batch:
                yield position, _row(fields)

    def get(self, positions: Iterable[int]) -> list[IncomingRow]:
        """The rows at ``positions``, in that order."""
        wanted = list(positions)
        found: dict[int, IncomingRow] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for position, *fields in self._db.execute(
                f"SELECT position, {_COLUMNS} FROM rows WHERE position IN ({marks})", chunk
            ):
                found[position] = _row(fields)
        return [found[position] for position in wanted]


def _row(fields: Sequence[Any]) -> IncomingRow:
    source, row, line, kind, values, fingerprint, name_derived = fields
    return IncomingRow(source, row, line, kind, json.loads(values), fingerprint, bool(name_derived))

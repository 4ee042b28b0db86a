"""The review rows of an import, kept in a temporary file until the review file is written.

An import of a million contacts can leave hundreds of thousands of rows to review, each with its
values, reasons and candidates: too many to hold as objects. Each row is written as one JSON
line when it is decided and read back (in that order) to store it and to write the review file,
as the dry run's plan is (:mod:`einklang.importer.plan_log`).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from einklang.importer.review import ReviewCandidate, ReviewRow


class ReviewLog:
    """An append-only list of :class:`ReviewRow` on disk; iterate it to read them back in order."""

    def __init__(self) -> None:
        self._file: IO[str] | None = None
        self._count = 0

    def append(self, row: ReviewRow) -> None:
        if self._file is None:
            # kept open until close(): rows are appended one at a time
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="einklang-review-")  # noqa: SIM115
        self._file.write(json.dumps(dataclasses.asdict(row), ensure_ascii=False, separators=(",", ":")))
        self._file.write("\n")
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[ReviewRow]:
        if self._file is None:
            return
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield _row(json.loads(line))
        self._file.seek(0, 2)  # further appends go to the end again

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _row(data: dict[str, Any]) -> ReviewRow:
    data["candidates"] = [ReviewCandidate(**candidate) for candidate in data["candidates"]]
    return ReviewRow(**data)

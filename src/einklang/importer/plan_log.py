"""The plan of a dry-run import, kept in temporary files instead of the heap.

A dry run of a million new contacts plans a million creates, each with its values: about a
gigabyte as Python dicts. The plan is only read at the end (printed with ``--json``, or just
counted), so each item is written as one JSON line as it is planned. Items are filed into
sections, which are read back in a fixed order whatever the order they were planned in: the
import plans accounts and contacts a batch at a time, but lists every new account before the
first contact that may need it, as it always has.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any

SECTIONS = ("persons", "accounts", "creates", "held", "account-reviews")
"""Sections in the order they are read: link/review of persons, new accounts, new contacts,
and the reviews decided after the creates (held-back records, then accounts to choose)."""


class PlanLog:
    """An append-only list of plan items (dicts) on disk; iterate it to read them back."""

    def __init__(self) -> None:
        self._files: dict[str, IO[str]] = {}
        self._count = 0

    def append(self, item: dict[str, Any], section: str = "persons") -> None:
        if section not in SECTIONS:
            raise ValueError(f"unknown plan section {section!r}")
        file = self._files.get(section)
        if file is None:
            # kept open until close(): items are appended one at a time
            file = self._files[section] = tempfile.TemporaryFile(  # noqa: SIM115
                "w+", encoding="utf-8", prefix="einklang-plan-"
            )
        file.write(json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str))
        file.write("\n")
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for section in SECTIONS:
            file = self._files.get(section)
            if file is None:
                continue
            file.flush()
            file.seek(0)
            for line in file:
                yield json.loads(line)
            file.seek(0, 2)  # further appends go to the end again

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._files.clear()

"""Contact files in, validated rows out: what ``inspect``, ``dedupe`` and ``import`` all start from.

Each file is read once, streaming; every row is validated and normalised by
:func:`einklang.importer.validate.validate_contact` as it is read. A file that cannot be read at
all becomes a :class:`FileReport` with ``error`` set, so one bad file never stops the others.

Memory stays bounded by what the caller keeps: :func:`scan_files` (``inspect``) keeps no rows,
only counts and the first :data:`MAX_PROBLEMS` problems of each file (the rest are counted);
:func:`read_files` keeps one compact :class:`IncomingRow` per usable row, nothing of the file text;
:func:`iter_rows` keeps none (``import`` streams them into a temporary file, see
:mod:`einklang.importer.row_store`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from einklang.importer.readers import ContactRow, Problem, ReaderError, open_contacts
from einklang.importer.validate import DERIVED_NAME_MESSAGE, validate_contact

_DELIMITER_NAMES = {";": "semicolon", ",": "comma", "\t": "tab"}
MAX_PROBLEMS = 1000
"""Problems kept per file for the report; more are counted (``problems_left_out``), not kept."""
PROGRESS_EVERY = 2000
"""Rows between two calls of a progress callback."""

Progress = Callable[[str, int], None]
"""Called with (file as shown, rows read so far) while a file is read, and once at its end."""


@dataclass(frozen=True, slots=True)
class IncomingRow:
    """One usable contact of a file: where it came from, its normalised values, its fingerprint."""

    source: str
    row: int
    line: int
    format: str
    values: dict[str, str]
    fingerprint: str
    name_derived: bool = False
    """The file gave no name: ``last_name`` was derived from the e-mail address."""

    @property
    def location(self) -> str:
        return f"{self.source}:{self.row}"

    def completeness(self) -> int:
        return sum(1 for value in self.values.values() if value)


@dataclass
class FileReport:
    source: str
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    rows_read: int = 0
    """Records found: every contact, also those left out (``rows_left_out``: unreadable, or nothing to name them by)."""
    rows_usable: int = 0
    rows_left_out: int = 0
    binary_skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    """The first :data:`MAX_PROBLEMS` problems (all of them in a file with fewer)."""
    problems_left_out: int = 0
    error: str | None = None
    error_count: int = 0
    warning_count: int = 0

    def add_problem(self, problem: Problem) -> None:
        if problem.severity == "error":
            self.error_count += 1
        else:
            self.warning_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.problems_left_out += 1

    @property
    def errors(self) -> int:
        return (1 if self.error else 0) + self.error_count

    @property
    def warnings(self) -> int:
        return self.warning_count

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": _DELIMITER_NAMES.get(self.delimiter or "", self.delimiter),
            "rows_read": self.rows_read,
            "rows_usable": self.rows_usable,
            "rows_left_out": self.rows_left_out,
            "errors": self.errors,
            "warnings": self.warnings,
            "error": self.error,
            "binary_values_skipped": self.binary_skipped,
            "problems": [problem_dict(p) for p in self.problems],
            "problems_left_out": self.problems_left_out,
        }


def problem_dict(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.source,
        "line": problem.line,
        "row": problem.row,
        "field": problem.field,
        "value": problem.value,
        "severity": problem.severity,
        "message": problem.message,
        "text": str(problem),
    }


def fingerprint(values: dict[str, str]) -> str:
    """A stable hash of a row's normalised content: the same contact exported again hashes equally.

    File name and position are left out on purpose, so a re-export with rows in another order,
    or the same list under another name, is still recognised on a rerun.
    """
    content = {name: value for name, value in sorted(values.items()) if value and name != "notes"}
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def read_file(
    path: Path,
    source: str | None = None,
    default_region: str = "DE",
    progress: Progress | None = None,
) -> tuple[FileReport, list[IncomingRow]]:
    """Read and validate one file; rows without any name are reported and left out."""
    report = FileReport(source if source is not None else str(path))
    rows = list(_stream(path, report, default_region, progress))
    return report, rows


def scan_file(
    path: Path,
    source: str | None = None,
    default_region: str = "DE",
    progress: Progress | None = None,
) -> FileReport:
    """Like :func:`read_file` but keeps no rows: the counts and problems of ``inspect``."""
    report = FileReport(source if source is not None else str(path))
    for _row in _stream(path, report, default_region, progress):
        pass
    return report


def scan_files(paths: Sequence[Path], default_region: str = "DE", progress: Progress | None = None) -> list[FileReport]:
    return [scan_file(path, str(path), default_region, progress) for path in paths]


def _stream(path: Path, report: FileReport, default_region: str, progress: Progress | None) -> Iterator[IncomingRow]:
    """The usable rows of one file, one at a time; ``report`` is filled in on the way."""
    shown = report.source
    try:
        info, records = open_contacts(path, source_name=shown)
        report.encoding = info.encoding or ("per property" if info.kind == "vcard" else None)
        report.delimiter = info.delimiter
        for item in records:
            if isinstance(item, Problem):
                # A problem is a row only when it stands for a whole record that could not be read.
                if item.record_lost:
                    report.rows_read += 1
                    report.rows_left_out += 1
                report.add_problem(item)
                continue
            report.rows_read += 1
            if progress is not None and report.rows_read % PROGRESS_EVERY == 0:
                progress(shown, report.rows_read)
            report.binary_skipped += item.binary_skipped
            report.format = report.format or item.format
            incoming = _validated(item, default_region, report)
            if incoming is not None:
                report.rows_usable += 1
                yield incoming
    except ReaderError as exc:
        report.error = str(exc)
    except (OSError, UnicodeError) as exc:
        report.error = f"{shown}: cannot read file: {exc}"
    if progress is not None:
        progress(shown, report.rows_read)


def read_files(
    paths: Sequence[Path], default_region: str = "DE", progress: Progress | None = None
) -> tuple[list[FileReport], list[IncomingRow]]:
    reports: list[FileReport] = []
    rows = list(iter_rows(paths, reports, default_region, progress))
    return reports, rows


def iter_rows(
    paths: Sequence[Path], reports: list[FileReport], default_region: str = "DE", progress: Progress | None = None
) -> Iterator[IncomingRow]:
    """The usable rows of every file, one at a time (``import`` keeps none of them).

    A :class:`FileReport` is appended to ``reports`` when its file is opened and filled in while
    its rows are read: complete once the generator has moved past the file.
    """
    for path in paths:
        report = FileReport(str(path))
        reports.append(report)
        yield from _stream(path, report, default_region, progress)


def _validated(item: ContactRow, default_region: str, report: FileReport) -> IncomingRow | None:
    values, problems = validate_contact(item, default_region)
    for problem in problems:
        report.add_problem(problem)
    if any(p.severity == "error" and p.field is None for p in problems):
        report.rows_left_out += 1
        return None  # a record-level error (nothing to name it by): nothing to import
    derived = any(p.message.startswith(DERIVED_NAME_MESSAGE) for p in problems)
    return IncomingRow(item.source, item.row, item.line, item.format, values, fingerprint(values), derived)

"""Contact files in, validated rows out: what ``inspect``, ``dedupe`` and ``import`` all start from.

Each file is read once, streaming; every row is validated and normalised by
:func:`einklang.importer.validate.validate_contact`. A file that cannot be read at all becomes a
:class:`FileReport` with ``error`` set, so one bad file never stops the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from einklang.importer.readers import ContactRow, Problem, ReaderError, read_contacts
from einklang.importer.readers.csv_reader import read_layout
from einklang.importer.readers.decoding import detect_encoding
from einklang.importer.validate import validate_contact

_DELIMITER_NAMES = {";": "semicolon", ",": "comma", "\t": "tab"}


@dataclass(frozen=True)
class IncomingRow:
    """One usable contact of a file: where it came from, its normalised values, its fingerprint."""

    source: str
    row: int
    line: int
    format: str
    values: dict[str, str]
    fingerprint: str

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
    rows_usable: int = 0
    binary_skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None

    @property
    def errors(self) -> int:
        return (1 if self.error else 0) + sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity == "warning")

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.source, "format": self.format, "encoding": self.encoding,
            "delimiter": _DELIMITER_NAMES.get(self.delimiter or "", self.delimiter),
            "rows_read": self.rows_read, "rows_usable": self.rows_usable, "errors": self.errors,
            "warnings": self.warnings, "error": self.error, "binary_values_skipped": self.binary_skipped,
            "problems": [problem_dict(p) for p in self.problems],
        }


def problem_dict(problem: Problem) -> dict[str, Any]:
    return {"file": problem.source, "line": problem.line, "row": problem.row, "field": problem.field,
            "value": problem.value, "severity": problem.severity, "message": problem.message,
            "text": str(problem)}


def fingerprint(values: dict[str, str]) -> str:
    """A stable hash of a row's normalised content: the same contact exported again hashes equally.

    File name and position are left out on purpose, so a re-export with rows in another order,
    or the same list under another name, is still recognised on a rerun.
    """
    content = {name: value for name, value in sorted(values.items()) if value and name != "notes"}
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def read_file(
    path: Path, source: str | None = None, default_region: str = "DE",
) -> tuple[FileReport, list[IncomingRow]]:
    """Read and validate one file; rows without any name are reported and left out."""
    shown = source if source is not None else str(path)
    report = FileReport(shown)
    rows: list[IncomingRow] = []
    try:
        report.encoding = detect_encoding(path, shown)
        records = read_contacts(path, source_name=shown, encoding=report.encoding)
        if not _is_vcard(path, report.encoding):
            report.delimiter = read_layout(path, shown, report.encoding, None, {}).delimiter
        for item in records:
            if isinstance(item, Problem):
                report.rows_read += 1
                report.problems.append(item)
                continue
            report.rows_read += 1
            report.binary_skipped += item.binary_skipped
            report.format = report.format or item.format
            incoming = _validated(item, default_region, report)
            if incoming is not None:
                rows.append(incoming)
    except ReaderError as exc:
        report.error = str(exc)
    except (OSError, UnicodeError) as exc:
        report.error = f"{shown}: cannot read file: {exc}"
    report.rows_usable = len(rows)
    return report, rows


def read_files(paths: Sequence[Path], default_region: str = "DE") -> tuple[list[FileReport], list[IncomingRow]]:
    reports: list[FileReport] = []
    rows: list[IncomingRow] = []
    for path in paths:
        report, file_rows = read_file(path, str(path), default_region)
        reports.append(report)
        rows.extend(file_rows)
    return reports, rows


def _validated(item: ContactRow, default_region: str, report: FileReport) -> IncomingRow | None:
    values, problems = validate_contact(item, default_region)
    report.problems.extend(problems)
    if any(p.severity == "error" and p.field is None for p in problems):
        return None  # a record-level error (no name): nothing to import
    return IncomingRow(item.source, item.row, item.line, item.format, values, fingerprint(values))


def _is_vcard(path: Path, encoding: str) -> bool:
    with path.open(encoding=encoding, errors="replace") as file:
        head = file.read(4096)
    return head.lstrip("\ufeff \t\r\n").upper().startswith("BEGIN:VCARD")

"""Contact CSV files (Outlook DE/EN, Outlook.com, Google, generic), streamed record by record."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from einklang.importer.readers.assemble import assemble_contact, is_blank
from einklang.importer.readers.google import google_slots
from einklang.importer.readers.headers import detect_dialect, normalize_header, slot_for
from einklang.importer.readers.model import ContactFormat, ContactRow, Problem, ReaderError

_DELIMITERS = (";", ",", "\t")


@dataclasses.dataclass(frozen=True, slots=True)
class CsvLayout:
    """What the header told: delimiter, dialect, and which column fills which slot."""

    delimiter: str
    dialect: ContactFormat
    header: list[str]
    columns: list[tuple[int, str]]


def read_layout(path: Path, source: str, encoding: str, delimiter: str | None, mapping: dict[str, str]) -> CsvLayout:
    """Read the header (and a ``sep=`` line) only; raises ReaderError if no column is known."""
    with _open(path, source, encoding) as file:
        layout, _records = _start(file, source, delimiter, mapping)
    return layout


def read_csv_rows(
    path: Path, source: str, encoding: str, delimiter: str | None, mapping: dict[str, str]
) -> Iterator[ContactRow | Problem]:
    with _open(path, source, encoding) as file:
        layout, records = _start(file, source, delimiter, mapping)
        yield from _rows(layout, records, source)


def _open(path: Path, source: str, encoding: str) -> TextIO:
    try:
        # newline="" so that the csv module sees CRLFs inside quoted notes.
        return path.open(encoding=encoding, newline="")
    except OSError as error:
        raise ReaderError(source, f"cannot read file: {error.strerror or error}") from None


def _start(file: TextIO, source: str, delimiter: str | None, mapping: dict[str, str]) -> tuple[CsvLayout, _Records]:
    first_line = file.readline()
    lines_before_header = 0
    if first_line.lstrip("\ufeff").strip().lower().startswith("sep=") and len(first_line.strip()) <= 6:
        # Excel's "sep=;" line names the delimiter and is not part of the data.
        declared = first_line.lstrip("\ufeff").strip()[4:5]
        delimiter = delimiter or (declared if declared else None)
        first_line = file.readline()
        lines_before_header = 1
    while first_line and not first_line.strip():
        first_line = file.readline()
        lines_before_header += 1
    if not first_line:
        raise ReaderError(source, "empty file: no header line", line=lines_before_header or None)
    delimiter = delimiter or _sniff_delimiter(first_line)
    records = _Records(_chain(first_line, file), delimiter, lines_before_header)
    try:
        header_record = records.next_record()
    except csv.Error as error:
        raise ReaderError(source, f"header is not valid CSV: {error}", line=records.start_line) from None
    if header_record is None:
        raise ReaderError(source, "empty file: no header line")
    header_line, header = header_record
    normalized = [normalize_header(column) for column in header]
    dialect = detect_dialect(normalized)
    columns = [
        (index, slot)
        for index, column in enumerate(normalized)
        if (slot := slot_for(column, dialect, mapping)) is not None
    ]
    if not columns:
        shown = ", ".join(repr(column) for column in header[:6])
        raise ReaderError(
            source,
            f"no known contact column in the header ({shown}{', ...' if len(header) > 6 else ''}); "
            "give a mapping from your headers to contact fields",
            line=header_line,
        )
    layout = CsvLayout(delimiter, dialect, header, columns)
    return layout, records


def _rows(layout: CsvLayout, records: _Records, source: str) -> Iterator[ContactRow | Problem]:
    width = len(layout.header)
    row_number = 0
    while True:
        try:
            record = records.next_record()
        except csv.Error as error:
            row_number += 1
            yield Problem(source, records.start_line, row_number, None, None, f"not valid CSV: {error}")
            if records.stalled():
                return
            continue
        if record is None:
            return
        line, cells = record
        if all(is_blank(cell) for cell in cells):
            continue
        row_number += 1
        surplus = [cell for cell in cells[width:] if cell.strip()]
        if surplus:
            yield Problem(
                source,
                line,
                row_number,
                None,
                None,
                f"record has {len(cells)} values but the header has {width} columns "
                "(an unquoted delimiter or line break?); record skipped",
            )
            continue
        slots: dict[str, str] = {}
        for index, slot in layout.columns:
            if index < len(cells) and not is_blank(cells[index]) and slot not in slots:
                slots[slot] = cells[index]
        if layout.dialect == "google":
            slots = google_slots(slots)
        yield ContactRow(source, row_number, line, layout.dialect, assemble_contact(slots))


class _Records:
    """csv.reader plus the physical start line of each record."""

    def __init__(self, lines: Iterator[str], delimiter: str, lines_before: int) -> None:
        self._reader = csv.reader(lines, delimiter=delimiter)
        self._lines_before = lines_before
        self._last_line_num = 0
        self._stall_count = 0
        self.start_line = lines_before + 1

    def next_record(self) -> tuple[int, list[str]] | None:
        self.start_line = self._lines_before + self._reader.line_num + 1
        try:
            cells = next(self._reader)
        except StopIteration:
            return None
        finally:
            self._stall_count = self._stall_count + 1 if self._reader.line_num == self._last_line_num else 0
            self._last_line_num = self._reader.line_num
        return self.start_line, cells

    def stalled(self) -> bool:
        return self._stall_count > 1


def _chain(first_line: str, rest: TextIO) -> Iterator[str]:
    yield first_line
    yield from rest


def _sniff_delimiter(header_line: str) -> str:
    """The delimiter that occurs most often outside quotes in the header; ties go to ";" then ","."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","

"""Contact CSV files (Outlook DE/EN, Outlook.com, Thunderbird, Apple, Google, generic), streamed record by record.

Every column that is not read is reported once at the header (a warning, naming what it looks
like: e-mail, phone, address); a column that is not read but holds e-mail addresses is an error
at the end of the file, so an export whose addresses would all be lost never passes as a success.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from einklang.importer.readers.assemble import assemble, is_blank
from einklang.importer.readers.google import google_slots
from einklang.importer.readers.headers import detect_dialect, looks_like, normalize_header, slot_for
from einklang.importer.readers.model import ContactFormat, ContactRow, Problem, ReaderError

_DELIMITERS = (";", ",", "\t")
_EMAIL_IN_TEXT = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclasses.dataclass(frozen=True, slots=True)
class CsvLayout:
    """What the header told: delimiter, dialect, and which column fills which slot."""

    delimiter: str
    dialect: ContactFormat
    header: list[str]
    columns: list[tuple[int, str]]
    header_line: int = 1

    @property
    def unused(self) -> list[int]:
        """Indexes of the named columns no slot reads."""
        used = {index for index, _slot in self.columns}
        return [index for index, name in enumerate(self.header) if name.strip() and index not in used]


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
        yield from _unused_column_warnings(layout, source)
        yield from _rows(layout, records, source)


UNUSED_COLUMNS_MESSAGE = "column(s) not read"


def _unused_column_warnings(layout: CsvLayout, source: str) -> Iterator[Problem]:
    """One warning naming every column that is not read; those named like e-mail, phone or address apart."""
    names = [layout.header[index].strip() for index in layout.unused]
    if not names:
        return
    by_kind: dict[str, list[str]] = {}
    for name in names:
        by_kind.setdefault(looks_like(name) or "", []).append(name)
    suspicious = "; ".join(
        f"named like {kind}: {', '.join(by_kind[kind])}" for kind in ("e-mail", "phone", "address") if kind in by_kind
    )
    message = f"{len(names)} {UNUSED_COLUMNS_MESSAGE}: {', '.join(names)}"
    if suspicious:
        message += f" ({suspicious}; rename them to einklang field names if they matter)"
    yield Problem(source, layout.header_line, None, None, None, message, "warning")


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
        for index, column in enumerate(header)
        if column.strip() and (slot := slot_for(column, dialect, mapping)) is not None
    ]
    if not columns:
        shown = ", ".join(repr(column) for column in header[:6])
        raise ReaderError(
            source,
            f"no known contact column in the header ({shown}{', ...' if len(header) > 6 else ''}); "
            "give a mapping from your headers to contact fields",
            line=header_line,
        )
    layout = CsvLayout(delimiter, dialect, header, columns, header_line)
    return layout, records


def _rows(layout: CsvLayout, records: _Records, source: str) -> Iterator[ContactRow | Problem]:
    width = len(layout.header)
    row_number = 0
    unused = layout.unused
    emails_in_unused: dict[int, int] = {}
    while True:
        try:
            record = records.next_record()
        except csv.Error as error:
            row_number += 1
            yield Problem(
                source, records.start_line, row_number, None, None, f"not valid CSV: {error}", record_lost=True
            )
            if records.stalled():
                break
            continue
        if record is None:
            break
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
                record_lost=True,
            )
            continue
        for index in unused:
            if index < len(cells) and _EMAIL_IN_TEXT.search(cells[index]):
                emails_in_unused[index] = emails_in_unused.get(index, 0) + 1
        slots: dict[str, str] = {}
        for index, slot in layout.columns:
            if index < len(cells) and not is_blank(cells[index]):
                if slot.endswith(".extra"):
                    # any number of columns: their values are kept in column order, one per line
                    slots[slot] = f"{slots[slot]}\n{cells[index]}" if slot in slots else cells[index]
                elif slot not in slots:
                    slots[slot] = cells[index]
        if layout.dialect == "google":
            slots = google_slots(slots)
        fields, unplaced = assemble(slots)
        yield ContactRow(source, row_number, line, layout.dialect, fields, unplaced_phones=unplaced)
    for index, count in emails_in_unused.items():
        name = layout.header[index]
        yield Problem(
            source,
            layout.header_line,
            None,
            name,
            None,
            f"column {name!r} holds e-mail addresses in {count} record(s) but is not read; "
            "rename the column (e.g. to 'email2') so that they are not lost",
        )


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

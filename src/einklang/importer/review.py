"""The review file: duplicates found by an import, side by side, for a person to decide.

One row per incoming record (or, for ``kind`` account, per contact whose company is unsure).
Columns, in order (English labels; ``lang="de"`` writes German ones, reading accepts both and
the internal keys):

* ``review_id``, ``kind`` (contact / account), ``decision`` (dropdown: merge / create / skip /
  not-duplicate), ``merge_into`` (which candidate a merge goes to, default 1), ``verdict``
  (duplicate = sure, possible = needs review), ``score``, ``reasons``, ``sources`` (file:row of
  every input row merged into this record), ``status`` (what the import already did);
* per candidate k: ``c{k}_id`` (native id in the target) and ``c{k}_score``;
* per field f: ``new_{f}`` (the incoming value; may be edited), ``c{k}_{f}`` (the candidates'
  values), ``take_{f}`` (dropdown incoming / existing; empty means: fill only if empty);
* hidden, for ``review apply``: ``c{k}_version``, ``fingerprints``, ``golden_id``, ``system``,
  ``entity``, ``run_id``.

xlsx is written with openpyxl (dropdowns, frozen header, hidden technical columns); a file
name ending in ``.csv`` gives the same columns as CSV (UTF-8 with BOM; ``;`` for German).

Values come from contact files and from the target system, so neither is trusted to be plain
text: every xlsx cell holding text is a string cell (never a formula, whatever it starts with),
and a CSV cell starting with ``= + - @``, tab, CR or ``'`` gets a leading ``'`` (the OWASP rule
against formula injection), which reading strips again: every value reads back unchanged.
Reading refuses oversized files before parsing them (:data:`MAX_FILE_BYTES`, the zip's
uncompressed sizes, :data:`MAX_CELL_CHARS`) and names ``file:line`` for every bad cell.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

DECISIONS = ("merge", "create", "skip", "not-duplicate")
TAKE_CHOICES = ("incoming", "existing")
MAX_CANDIDATES = 3
SHEET_TITLE = "review"

_VALUE_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "merge": "merge",
        "create": "create",
        "skip": "skip",
        "not-duplicate": "not-duplicate",
        "incoming": "incoming",
        "existing": "existing",
        "duplicate": "duplicate",
        "possible": "possible",
        "contact": "contact",
        "account": "account",
    },
    "de": {
        "merge": "zusammenführen",
        "create": "neu anlegen",
        "skip": "überspringen",
        "not-duplicate": "kein Duplikat",
        "incoming": "Import",
        "existing": "vorhanden",
        "duplicate": "Duplikat",
        "possible": "mögliches Duplikat",
        "contact": "Kontakt",
        "account": "Firma",
    },
}
_FIELD_LABELS_DE = {
    "first_name": "Vorname",
    "last_name": "Nachname",
    "title": "Titel",
    "position": "Position",
    "company": "Firma",
    "department": "Abteilung",
    "street": "Straße",
    "postal_code": "PLZ",
    "city": "Ort",
    "country": "Land",
    "phone": "Telefon",
    "mobile": "Mobil",
    "email": "E-Mail",
    "salutation": "Anrede",
    "account_id": "Firmen-ID",
    "name": "Name",
}
_FIXED_LABELS = {
    "en": {
        "review_id": "Review no.",
        "kind": "Kind",
        "decision": "Decision",
        "merge_into": "Merge into candidate",
        "verdict": "Verdict",
        "score": "Score",
        "reasons": "Reasons",
        "sources": "Sources",
        "status": "Status",
        "fingerprints": "fingerprints",
        "golden_id": "golden_id",
        "system": "system",
        "entity": "entity",
        "run_id": "run_id",
    },
    "de": {
        "review_id": "Prüf-Nr.",
        "kind": "Art",
        "decision": "Entscheidung",
        "merge_into": "Zusammenführen mit Kandidat",
        "verdict": "Einstufung",
        "score": "Ähnlichkeit",
        "reasons": "Gründe",
        "sources": "Quellen",
        "status": "Status",
        "fingerprints": "fingerprints",
        "golden_id": "golden_id",
        "system": "system",
        "entity": "entity",
        "run_id": "run_id",
    },
}
_TECHNICAL = ("fingerprints", "golden_id", "system", "entity", "run_id")

# Limits of what ``read_review`` accepts (a review file of 10,000 rows is a few MB).
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024
"""The sum of an xlsx archive's uncompressed member sizes (checked before anything is parsed)."""
MAX_CELL_CHARS = 32_767
"""Excel's own limit for one cell."""

# A CSV cell starting with one of these is read as a formula by spreadsheet programs.
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CSV_ESCAPE = "'"


class ReviewFileError(Exception):
    """The review file cannot be read back (missing, not a review file, a bad cell)."""


@dataclass
class ReviewCandidate:
    native_id: str
    version: str | None
    score: float | None
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class ReviewRow:
    review_id: str
    kind: str
    verdict: str
    score: float
    reasons: list[str]
    sources: list[str]
    status: str
    incoming: dict[str, str]
    candidates: list[ReviewCandidate]
    fingerprints: list[str]
    system: str
    entity: str
    run_id: int | None
    golden_id: str | None = None
    decision: str | None = None
    merge_into: int = 1
    take: dict[str, str] = field(default_factory=dict)
    line: int = 0  # where the row was read from (for messages)

    def candidate(self, number: int) -> ReviewCandidate | None:
        return self.candidates[number - 1] if 1 <= number <= len(self.candidates) else None


class ReviewRows(Protocol):
    """Review rows that can be counted and read more than once (a list, or rows kept on disk)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[ReviewRow]: ...


def field_label(name: str, lang: str) -> str:
    return _FIELD_LABELS_DE.get(name, name) if lang == "de" else name


def column_keys(fields: Sequence[str], candidate_count: int) -> list[str]:
    keys = ["review_id", "kind", "decision", "merge_into", "verdict", "score", "reasons", "sources", "status"]
    for k in range(1, candidate_count + 1):
        keys += [f"c{k}_id", f"c{k}_score"]
    for name in fields:
        keys.append(f"new_{name}")
        keys += [f"c{k}_{name}" for k in range(1, candidate_count + 1)]
        keys.append(f"take_{name}")
    keys += [f"c{k}_version" for k in range(1, candidate_count + 1)]
    keys += list(_TECHNICAL)
    return keys


def column_label(key: str, fields: Sequence[str], lang: str) -> str:
    fixed = _FIXED_LABELS[lang]
    if key in fixed:
        return fixed[key]
    de = lang == "de"
    if key.startswith("new_") and key[4:] in fields:
        return f"{field_label(key[4:], lang)} (Import)" if de else f"{key[4:]} (incoming)"
    if key.startswith("take_") and key[5:] in fields:
        return f"{field_label(key[5:], lang)}: übernehmen" if de else f"{key[5:]}: take"
    if key.startswith("c") and "_" in key and key[1 : key.index("_")].isdigit():
        number, rest = key[1 : key.index("_")], key[key.index("_") + 1 :]
        who = f"Kandidat {number}" if de else f"candidate {number}"
        if rest == "id":
            return f"{who} ID" if de else f"{who} id"
        if rest == "score":
            return f"{who} Ähnlichkeit" if de else f"{who} score"
        if rest == "version":
            return f"{who} version"
        return f"{field_label(rest, lang)} ({who})"
    return key


def _value_label(value: str, lang: str) -> str:
    return _VALUE_LABELS[lang].get(value, value)


def _value_from_label(text: str) -> str:
    wanted = text.strip().casefold()
    for labels in _VALUE_LABELS.values():
        for key, label in labels.items():
            if wanted in (label.casefold(), key.casefold()):
                return key
    return text.strip()


def _cells(row: ReviewRow, keys: Sequence[str], fields: Sequence[str], lang: str) -> list[Any]:
    values: dict[str, Any] = {
        "review_id": row.review_id,
        "kind": _value_label(row.kind, lang),
        "decision": _value_label(row.decision, lang) if row.decision else "",
        "merge_into": row.merge_into if row.candidates else "",
        "verdict": _value_label(row.verdict, lang),
        "score": round(row.score, 4),
        "reasons": "; ".join(row.reasons),
        "sources": "; ".join(row.sources),
        "status": row.status,
        "fingerprints": " ".join(row.fingerprints),
        "golden_id": row.golden_id or "",
        "system": row.system,
        "entity": row.entity,
        "run_id": row.run_id if row.run_id is not None else "",
    }
    for k, candidate in enumerate(row.candidates[:MAX_CANDIDATES], start=1):
        values[f"c{k}_id"] = candidate.native_id
        values[f"c{k}_score"] = round(candidate.score, 4) if candidate.score is not None else ""
        values[f"c{k}_version"] = candidate.version or ""
        for name in fields:
            values[f"c{k}_{name}"] = candidate.values.get(name, "")
    for name in fields:
        values[f"new_{name}"] = row.incoming.get(name, "")
        choice = row.take.get(name)
        values[f"take_{name}"] = _value_label(choice, lang) if choice else ""
    return [values.get(key, "") for key in keys]


def _csv_cell(value: Any) -> Any:
    """A leading ``'`` for text a spreadsheet would take for a formula (and for text starting with ``'``)."""
    if isinstance(value, str) and value.startswith((*_CSV_FORMULA_START, _CSV_ESCAPE)):
        return _CSV_ESCAPE + value
    return value


def _csv_value(cell: str) -> str:
    """The value written by :func:`_csv_cell`: exactly the one ``'`` it added removed."""
    return cell[1:] if cell.startswith(_CSV_ESCAPE) else cell


def write_review(path: Path, rows: ReviewRows, fields: Sequence[str], lang: str = "en") -> Path:
    """Write ``rows`` to ``path`` (.xlsx, or .csv); return the path."""
    if lang not in _VALUE_LABELS:
        raise ValueError(f"unknown language {lang!r} (en, de)")
    count = max((len(r.candidates[:MAX_CANDIDATES]) for r in rows), default=1) or 1
    keys = column_keys(fields, count)
    labels = [column_label(key, fields, lang) for key in keys]
    path.parent.mkdir(parents=True, exist_ok=True)
    # the file holds the company's contact data: readable by the person who ran the import only
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    path.chmod(0o600)
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as file:
            writer = csv.writer(file, delimiter=";" if lang == "de" else ",")
            writer.writerow(labels)
            for row in rows:
                writer.writerow([_csv_cell(cell) for cell in _cells(row, keys, fields, lang)])
        return path
    _write_xlsx(path, rows, keys, labels, fields, lang)
    return path


def _write_xlsx(
    path: Path,
    rows: ReviewRows,
    keys: Sequence[str],
    labels: Sequence[str],
    fields: Sequence[str],
    lang: str,
) -> None:
    """The sheet written row by row (openpyxl's write-only mode): a review of a million rows
    never exists as a million times thirty cell objects."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    # layout first: in write-only mode columns, panes and validations precede the rows
    last_row = max(len(rows) + 1, 2)
    decision_list = ",".join(_value_label(d, lang) for d in DECISIONS)
    take_list = ",".join(_value_label(c, lang) for c in TAKE_CHOICES)
    decision_validation = DataValidation(type="list", formula1=f'"{decision_list}"', allow_blank=True)
    take_validation = DataValidation(type="list", formula1=f'"{take_list}"', allow_blank=True)
    sheet.data_validations.append(decision_validation)  # what add_data_validation does in normal mode
    sheet.data_validations.append(take_validation)
    highlighted: set[int] = set()
    for index, key in enumerate(keys):
        letter = get_column_letter(index + 1)
        dimension = sheet.column_dimensions[letter]
        if key in _TECHNICAL or key.endswith("_version"):
            dimension.hidden = True
            continue
        dimension.width = 40 if key == "reasons" else 26 if key in ("sources", "status", "decision") else 16
        if key == "decision":
            decision_validation.add(f"{letter}2:{letter}{last_row}")
        elif key.startswith("take_"):
            take_validation.add(f"{letter}2:{letter}{last_row}")
        if key == "decision" or key.startswith("take_") or key == "merge_into":
            highlighted.add(index)
    sheet.freeze_panes = "D2"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    header = []
    for label in labels:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font, cell.alignment = bold, wrap
        header.append(cell)
    sheet.append(header)
    highlight = PatternFill("solid", fgColor="FFF2CC")

    def cells(values: Sequence[Any]) -> list[Any]:
        result = []
        for index, value in enumerate(values):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula (openpyxl takes "=..." for one)
            if index in highlighted:
                cell.fill = highlight
            result.append(cell)
        return result

    for row in rows:
        sheet.append(cells(_cells(row, keys, fields, lang)))
    if not rows:  # the decision columns of the first row still offer their choices
        sheet.append(cells([None] * len(keys)))
    workbook.save(path)


# ---------------------------------------------------------------------------- reading back


def _label_index(fields: Iterable[str], candidate_count: int) -> dict[str, str]:
    keys = column_keys(list(fields), candidate_count)
    index: dict[str, str] = {}
    for lang in _FIXED_LABELS:
        for key in keys:
            index[column_label(key, list(fields), lang).casefold()] = key
    for key in keys:
        index[key.casefold()] = key
    return index


def _header_keys(header: Sequence[str]) -> list[str | None]:
    """Map header cells to keys; fields are discovered from the ``take_`` / ``new_`` columns."""
    fields: list[str] = []
    for cell in header:
        text = cell.strip()
        if text.startswith("new_"):
            fields.append(text[4:])
        elif text.endswith(" (incoming)"):
            fields.append(text.removesuffix(" (incoming)"))
        elif text.endswith(" (Import)"):
            label = text.removesuffix(" (Import)")
            german = {v: k for k, v in _FIELD_LABELS_DE.items()}
            fields.append(german.get(label, label))
    index = _label_index(fields, MAX_CANDIDATES)
    return [index.get(cell.strip().casefold()) for cell in header]


def read_review(path: Path) -> list[ReviewRow]:
    """The rows of a review file; ReviewFileError (naming ``file:line``) for anything unreadable."""
    if not path.is_file():
        raise ReviewFileError(f"{path}: review file not found")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ReviewFileError(f"{path}: {size:,} bytes is too large for a review file (at most {MAX_FILE_BYTES:,})")
    table = _read_csv(path) if path.suffix.lower() == ".csv" else _read_xlsx(path)
    if not table:
        raise ReviewFileError(f"{path}: empty file")
    keys = _header_keys(table[0])
    if "decision" not in keys or "review_id" not in keys:
        raise ReviewFileError(f"{path}: not an einklang review file (no review/decision columns)")
    rows: list[ReviewRow] = []
    for line, cells in enumerate(table[1:], start=2):
        record = {key: (cells[i] if i < len(cells) else "") for i, key in enumerate(keys) if key}
        if not any(str(value).strip() for value in record.values()):
            continue
        rows.append(_row_from_cells(record, f"{path}:{line}", line))
    return rows


def _text(value: Any) -> str:
    """A cell as text, unstripped (values read back exactly as written)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(where: str, label: str, text: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ReviewFileError(f"{where}: {label}: {text!r} is not {what}") from None


def _row_from_cells(record: dict[str, Any], where: str, line: int) -> ReviewRow:
    def raw(key: str) -> str:
        return _text(record.get(key))

    def get(key: str) -> str:
        return raw(key).strip()

    decision = _value_from_label(get("decision")) if get("decision") else None
    if decision is not None and decision not in DECISIONS:
        raise ReviewFileError(f"{where}: unknown decision {get('decision')!r} (use one of: {', '.join(DECISIONS)})")
    merge_into_text = get("merge_into") or "1"
    if not merge_into_text.isdigit():
        raise ReviewFileError(f"{where}: merge into must be a candidate number, not {merge_into_text!r}")
    fields = [key[4:] for key in record if key.startswith("new_")]
    candidates: list[ReviewCandidate] = []
    for k in range(1, MAX_CANDIDATES + 1):
        native_id = get(f"c{k}_id")
        if not native_id:
            continue
        score_text = get(f"c{k}_score")
        candidates.append(
            ReviewCandidate(
                native_id,
                get(f"c{k}_version") or None,
                _number(where, f"candidate {k} score", score_text, float) if score_text else None,
                {name: raw(f"c{k}_{name}") for name in fields if raw(f"c{k}_{name}")},
            )
        )
    take: dict[str, str] = {}
    for name in fields:
        choice = get(f"take_{name}")
        if choice:
            value = _value_from_label(choice)
            if value not in TAKE_CHOICES:
                raise ReviewFileError(f"{where}: {name}: unknown choice {choice!r} (incoming or existing)")
            take[name] = value
    run_text = get("run_id")
    score_text = get("score")
    return ReviewRow(
        review_id=get("review_id"),
        kind=_value_from_label(get("kind") or "contact"),
        verdict=_value_from_label(get("verdict")),
        score=_number(where, "score", score_text, float) if score_text else 0.0,
        reasons=[r for r in get("reasons").split("; ") if r],
        sources=[s for s in get("sources").split("; ") if s],
        status=get("status"),
        incoming={name: raw(f"new_{name}") for name in fields if raw(f"new_{name}")},
        candidates=candidates,
        fingerprints=get("fingerprints").split(),
        system=get("system"),
        entity=get("entity"),
        run_id=_number(where, "run_id", run_text, int) if run_text else None,
        golden_id=get("golden_id") or None,
        decision=decision,
        merge_into=int(merge_into_text),
        take=take,
        line=line,
    )


def _check_cells(path: Path, table: list[list[str]]) -> list[list[str]]:
    for line, cells in enumerate(table, start=1):
        for cell in cells:
            if len(cell) > MAX_CELL_CHARS:
                raise ReviewFileError(f"{path}:{line}: a cell of {len(cell):,} characters (at most {MAX_CELL_CHARS:,})")
    return table


def _read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReviewFileError(
            f'{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x}); a file re-saved by Excel: save it as "CSV UTF-8"'
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table: list[list[str]] = []
    try:
        for cells in reader:
            table.append([_csv_value(cell) for cell in cells])
    except csv.Error as exc:
        raise ReviewFileError(f"{path}:{reader.line_num}: not a readable CSV line: {exc}") from None
    return _check_cells(path, table)


def _check_archive(path: Path) -> None:
    """Refuse an xlsx whose members would unpack to more than the limits, before parsing any."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReviewFileError(f"{path}: not a readable xlsx file: {exc}") from None
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > MAX_XLSX_UNCOMPRESSED or total > MAX_XLSX_UNCOMPRESSED:
            raise ReviewFileError(
                f"{path}: {member.filename} unpacks to more than {MAX_XLSX_UNCOMPRESSED:,} "
                f"bytes: too large for a review file"
            )


def _read_xlsx(path: Path) -> list[list[str]]:
    _check_archive(path)
    table: list[list[str]] = []
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a broken file
        raise ReviewFileError(f"{path}: not a readable xlsx file: {_xml_error(exc)}") from None
    try:
        sheet = workbook[SHEET_TITLE] if SHEET_TITLE in workbook.sheetnames else workbook.worksheets[0]
        for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_text(cell) for cell in row]
            for cell in cells:
                if len(cell) > MAX_CELL_CHARS:
                    raise ReviewFileError(
                        f"{path}:{line}: a cell of {len(cell):,} characters (at most {MAX_CELL_CHARS:,})"
                    )
            table.append(cells)
    except ReviewFileError:
        raise
    except Exception as exc:  # the sheet's XML is parsed while iterating (read-only mode)
        where = f"{path}:{len(table) + 1}" if table else str(path)
        raise ReviewFileError(f"{where}: broken xlsx content after line {len(table)}: {_xml_error(exc)}") from None
    finally:
        workbook.close()
    return table


def _xml_error(exc: Exception) -> str:
    position = getattr(exc, "position", None)
    text = str(exc) or type(exc).__name__
    return f"{text} (XML line {position[0]})" if isinstance(position, tuple) and position else text

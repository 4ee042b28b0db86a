"""Contacts and e-mail addresses of the real-world collection: read, reported, or lost.

For every file under tests/fixtures/realworld (README.md and LICENSE files aside):

* **contacts** in the file: ``BEGIN:VCARD`` lines of a vCard; the non-blank records after the
  header of a CSV (Python's csv module, the delimiter the header uses most).  A contact is
  *read* when einklang keeps it as a usable row, *reported* when it is not kept but a problem
  of the file names it (a whole-file error counts for all of its contacts), else *lost*.
* **e-mail addresses**: every match of a plain regex over the file's text (UTF-8, else
  Windows-1252).  *Arrived* when one of the read rows holds it (in any value), *reported*
  when a problem of that file shows it, else *lost*.
* **mojibake**: read values with the marks of UTF-8 misread as a code page ("Ã¤", "â€", U+FFFD)
  on a row without a problem that says so.

Runs against whatever ``einklang`` is importable, so the same script measures the branch point
(``PYTHONPATH=<checkout of main>/src``) and this branch.  Only public functions that exist in
both are used.

    .venv/bin/python bench/realworld_readers.py [--json]

``--dump-values before.json`` (run with the old code) and ``--compare-values before.json`` (with
the new) list every read value that changed: the counts above only see losses, not a value read
into the wrong field or a number read in the wrong country.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from einklang.importer.incoming import read_file

COLLECTION = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "realworld"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
MOJIBAKE = re.compile(
    "[ÃÂ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]|â€|\ufffd"
)
BEGIN = re.compile(r"(?im)^[\ufeff \t]*BEGIN:VCARD[ \t]*\r*$")
GARBLED_WORDS = ("garbled", "mojibake", "U+FFFD", "undecodable", "charset", "CHARSET")


@dataclass
class Counts:
    files: int = 0
    contacts: int = 0
    contacts_read: int = 0
    contacts_reported: int = 0
    contacts_lost: int = 0
    emails: int = 0
    emails_arrived: int = 0
    emails_reported: int = 0
    emails_lost: int = 0
    mojibake_unreported: int = 0


def collection_files() -> list[Path]:
    return sorted(
        path
        for path in COLLECTION.rglob("*")
        if path.is_file() and path.name not in {"README.md", "LICENSE"} and not path.name.startswith(".")
    )


def text_of(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def contacts_in(path: Path, text: str) -> int:
    if BEGIN.search(text[:4096]) or path.suffix.lower() in {".vcf", ".vcard"}:
        return len(BEGIN.findall(text))
    lines = text.splitlines()
    header = lines[0] if lines else ""
    delimiter = max((";", ",", "\t"), key=header.count)
    records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return sum(1 for record in records[1:] if any(cell.strip() for cell in record))


def measure(path: Path) -> Counts:
    text = text_of(path)
    counts = Counts(files=1, contacts=contacts_in(path, text))
    report, rows = read_file(path, str(path))
    problem_texts = [f"{p.value or ''} {p.message}".casefold() for p in report.problems]
    if report.error:
        problem_texts.append(report.error.casefold())
    counts.contacts_read = min(len(rows), counts.contacts)
    if report.error:
        counts.contacts_reported = counts.contacts - counts.contacts_read
    else:
        read_numbers = {row.row for row in rows}
        reported_rows = {
            p.row
            for p in report.problems
            if p.row is not None
            and (p.severity == "error" or getattr(p, "record_lost", False))
            and p.row not in read_numbers
        }
        counts.contacts_reported = min(len(reported_rows), counts.contacts - counts.contacts_read)
    counts.contacts_lost = counts.contacts - counts.contacts_read - counts.contacts_reported
    read_values = " ".join(value.casefold() for row in rows for value in row.values.values())
    for address in dict.fromkeys(match.group(0).casefold().rstrip(".") for match in EMAIL.finditer(text)):
        counts.emails += 1
        if address in read_values:
            counts.emails_arrived += 1
        elif any(address in problem for problem in problem_texts):
            counts.emails_reported += 1
        else:
            counts.emails_lost += 1
    for row in rows:
        garbled = any(MOJIBAKE.search(value) for value in row.values.values())
        said = any(
            p.row == row.row and any(word.casefold() in p.message.casefold() for word in GARBLED_WORDS)
            for p in report.problems
        )
        counts.mojibake_unreported += garbled and not said
    return counts


def read_values() -> dict[str, dict[str, dict[str, str]]]:
    """Every file's read rows: {file: {row number: {field: value}}}."""
    result: dict[str, dict[str, dict[str, str]]] = {}
    for path in collection_files():
        _report, rows = read_file(path, str(path))
        result[str(path.relative_to(COLLECTION))] = {str(row.row): dict(row.values) for row in rows}
    return result


def print_value_changes(
    before: dict[str, dict[str, dict[str, str]]], after: dict[str, dict[str, dict[str, str]]]
) -> None:
    """Each value that differs (files present in both), then the count of changed values per field."""
    per_field: dict[str, int] = {}
    for name in sorted(set(before) & set(after)):
        for row in sorted(set(before[name]) | set(after[name]), key=int):
            old, new = before[name].get(row, {}), after[name].get(row, {})
            for field in sorted(set(old) | set(new)):
                if old.get(field) != new.get(field):
                    per_field[field] = per_field.get(field, 0) + 1
                    print(f"{name} row {row} {field}: {old.get(field)!r} -> {new.get(field)!r}")
    print("changed values per field:", ", ".join(f"{k} {v}" for k, v in sorted(per_field.items())) or "none")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    parser.add_argument("--per-file", action="store_true", help="also list each file's counts")
    parser.add_argument("--dump-values", type=Path, help="write every read row's values to this JSON file")
    parser.add_argument(
        "--compare-values", type=Path, help="list the read values that differ from a --dump-values file"
    )
    args = parser.parse_args()
    if args.dump_values or args.compare_values:
        values = read_values()
        if args.dump_values:
            args.dump_values.write_text(json.dumps(values, indent=1, ensure_ascii=False), encoding="utf-8")
        if args.compare_values:
            print_value_changes(json.loads(args.compare_values.read_text(encoding="utf-8")), values)
        return 0
    total = Counts()
    per_file: dict[str, Counts] = {}
    for path in collection_files():
        counts = measure(path)
        per_file[str(path.relative_to(COLLECTION))] = counts
        for name, value in asdict(counts).items():
            setattr(total, name, getattr(total, name) + value)
    if args.json:
        print(json.dumps({"total": asdict(total), "files": {k: asdict(v) for k, v in per_file.items()}}, indent=2))
        return 0
    if args.per_file:
        for name, counts in per_file.items():
            if counts.contacts_lost or counts.emails_lost or counts.mojibake_unreported:
                print(
                    f"{name}: contacts {counts.contacts} lost {counts.contacts_lost}; "
                    f"e-mails {counts.emails} lost {counts.emails_lost}; mojibake {counts.mojibake_unreported}"
                )
    print(f"files: {total.files}")
    print(
        f"contacts: {total.contacts} = read {total.contacts_read} + reported {total.contacts_reported}"
        f" + lost {total.contacts_lost}"
    )
    print(
        f"e-mails:  {total.emails} = arrived {total.emails_arrived} + reported {total.emails_reported}"
        f" + lost {total.emails_lost}"
    )
    print(f"read values with unreported mojibake: {total.mojibake_unreported}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

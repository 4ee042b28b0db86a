"""Random review files through ``einklang review apply`` (``--dry-run``, then for real).

A small real import (the demo's CRM and contact exports, as in ``tests/unit/importer``) writes a
review file once; every example copies that world, decides some rows, mutates the file (random
cell values including formulas, unicode, control characters, huge strings, wrong types; deleted,
duplicated and swapped rows; changed hidden columns), possibly re-saves it as CSV, and runs the
command. Checked: the command ends with a report or a review-file error naming the file (never
an internal error), every refused row is named ``file:row``, a dry run writes nothing, and a
real apply writes only to records the import offered for the rows decided (their candidates,
or the record the row is already linked to): never an existing account or any ERP record.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils.exceptions import IllegalCharacterError
from tests.unit.importer.demo_world import world
from tests.unit.importer.test_pipeline import do_import
from typer.testing import CliRunner

from einklang.cli import app
from einklang.importer.review import read_review

from .common import fuzz_settings

runner = CliRunner()
DECISION_WORDS = [
    "merge",
    "create",
    "skip",
    "not-duplicate",
    "zusammenführen",
    "neu anlegen",
    "kein Duplikat",
    " MERGE ",
    "maybe",
    "",
]
HIDDEN = [
    "system",
    "entity",
    "run_id",
    "golden_id",
    "fingerprints",
    "candidate 1 version",
    "candidate 1 id",
    "Review no.",
    "Kind",
    "Merge into candidate",
]
CELLS = st.one_of(
    st.sampled_from(
        [
            "=1+1",
            '=HYPERLINK("http://evil.example","x")',
            "+49 30 1",
            "-1",
            "@SUM(A1)",
            "'quoted",
            "crm",
            "erp",
            "contact",
            "account",
            "company",
            "1",
            "2",
            "9",
            "0",
            "-3",
            "1.5",
            "1e308",
            "nan",
            "R1",
            "R2",
            "R99",
            "(new)",
            "incoming",
            "existing",
            "Import",
            "vorhanden",
            "[red]x[/red]",
            "Müller",
            "\u202e",
            "\x00",
            "\x1b[2J",
            "\r\n",
            "x" * 40_000,
            "y" * 5000,
        ]
    ),
    st.text(max_size=20),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.booleans(),
    st.none(),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
)


@pytest.fixture(scope="module")
def base() -> Any:
    """One import run with a review file, its folder closed and ready to copy."""
    tmp = Path(tempfile.mkdtemp(prefix="einklang-fuzz-review-"))
    config, store, exports = world.__wrapped__(tmp)
    do_import(config, store, exports, review_path=tmp / "review.xlsx")
    store.close()
    shutil.rmtree(tmp / "exports")
    stored = {row.review_id: row for row in read_review(tmp / "review.xlsx")}
    with sqlite3.connect(tmp / "einklang.db") as db:
        linked = {
            golden: native
            for golden, native in db.execute(
                "SELECT golden_id, native_id FROM links WHERE system = 'crm' AND entity = 'contact'"
            )
        }
    offered = {
        review_id: {c.native_id for c in row.candidates}
        | ({linked[row.golden_id]} if row.golden_id in linked else set())
        for review_id, row in stored.items()
    }
    yield tmp, offered
    shutil.rmtree(tmp, ignore_errors=True)


@st.composite
def edits(draw: st.DrawFn) -> dict[str, Any]:
    decisions = draw(st.dictionaries(st.integers(2, 5), st.sampled_from(DECISION_WORDS), max_size=4))
    mutations = draw(
        st.lists(
            st.one_of(
                st.tuples(
                    st.just("cell"), st.integers(1, 6), st.one_of(st.sampled_from(HIDDEN), st.integers(1, 60)), CELLS
                ),
                st.tuples(st.just("delete"), st.integers(2, 6)),
                st.tuples(st.just("duplicate"), st.integers(2, 6)),
                st.tuples(st.just("swap"), st.integers(2, 6), st.integers(2, 6)),
            ),
            max_size=5,
        )
    )
    return {
        "decisions": decisions,
        "mutations": mutations,
        "csv": draw(st.booleans()),
        "delimiter": draw(st.sampled_from([",", ";"])),
        "partial": draw(st.booleans()),
    }


def _mutate(source: Path, target: Path, plan: dict[str, Any]) -> None:
    workbook = load_workbook(source)
    sheet = workbook.active
    assert sheet is not None
    header = [str(cell.value) for cell in sheet[1]]

    def put(row: int, column: Any, value: Any) -> None:
        index = header.index(column) + 1 if isinstance(column, str) else column
        try:
            sheet.cell(row, index).value = value
        except (IllegalCharacterError, ValueError, TypeError):
            sheet.cell(row, index).value = repr(value)  # openpyxl refuses it; a person could not type it either

    for row, decision in plan["decisions"].items():
        put(row, "Decision", decision)
    for mutation in plan["mutations"]:
        if mutation[0] == "cell":
            put(mutation[1], mutation[2], mutation[3])
        elif mutation[0] == "delete":
            sheet.delete_rows(mutation[1])
        elif mutation[0] == "duplicate" and mutation[1] <= sheet.max_row:
            sheet.append([cell.value for cell in sheet[mutation[1]]])
        elif mutation[0] == "swap" and max(mutation[1:]) <= sheet.max_row:
            first = [cell.value for cell in sheet[mutation[1]]]
            second = [cell.value for cell in sheet[mutation[2]]]
            for column, (a, b) in enumerate(zip(first, second, strict=True), start=1):
                sheet.cell(mutation[1], column).value = b
                sheet.cell(mutation[2], column).value = a
    if not plan["csv"]:
        workbook.save(target)
        return
    with target.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=plan["delimiter"])
        for cells in sheet.iter_rows(values_only=True):
            writer.writerow(["" if value is None else value for value in cells])


def _snapshot(folder: Path) -> dict[str, dict[str, dict[Any, tuple[Any, ...]]]]:
    tables: dict[str, dict[str, dict[Any, tuple[Any, ...]]]] = {}
    for name in ("crm.db", "erp.db"):
        with sqlite3.connect(folder / name) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                if table.startswith("sqlite_"):
                    continue
                tables[f"{name}:{table}"] = {
                    row[0]: tuple(row[1:]) for row in db.execute(f'SELECT rowid, * FROM "{table}"')
                }
    return tables


def _run(folder: Path, review: Path, *options: str) -> dict[str, Any]:
    result = runner.invoke(
        app, ["review", "apply", str(review), "--json", "-c", str(folder / "einklang.yaml"), *options]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    data = json.loads(result.stdout)
    if "error" in data:
        error = data["error"]
        assert error["kind"] == "error", error  # a review-file error, not an internal one
        assert error["message"].startswith(str(review)), error
    else:
        for failure in data["failures"]:
            assert failure.startswith(f"{review}:"), failure
            assert failure.split(f"{review}:", 1)[1].split(" ", 1)[0].rstrip(":").isdigit(), failure
    return dict(data)


@fuzz_settings(60)
@given(plan=edits())
def test_random_review_files(base: Any, plan: dict[str, Any]) -> None:
    source, offered = base
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "world"
        shutil.copytree(source, folder)
        review = folder / ("decided.csv" if plan["csv"] else "decided.xlsx")
        _mutate(folder / "review.xlsx", review, plan)
        before = _snapshot(folder)
        partial = ("--partial",) if plan["partial"] else ()
        _run(folder, review, "--dry-run", *partial)
        assert _snapshot(folder) == before, "a dry run wrote"
        data = _run(folder, review, *partial)
        event(
            "refused file"
            if "error" in data
            else "applied"
            if data["merged"] + data["created"] + data["skipped"] + data["attached"]
            else "nothing applied"
        )
        after = _snapshot(folder)
        try:
            rows = read_review(review)
        except Exception:  # unreadable: the command must have refused it, so nothing may change
            assert after == before
            return
        decided = {row.review_id for row in rows if row.decision}
        allowed = set().union(*(offered.get(review_id, set()) for review_id in decided))
        for table, records in before.items():
            for key, values in records.items():
                assert key in after[table], f"{table} {key} was deleted"
                if after[table][key] != values:
                    assert table == "crm.db:contacts" and str(key) in allowed, (
                        f"{table} {key} written, not offered for a decided row: {values} -> {after[table][key]}",
                        data,
                    )

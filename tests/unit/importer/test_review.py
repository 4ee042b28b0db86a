from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from tests.unit.importer.demo_world import world  # noqa: F401 - fixture
from tests.unit.importer.test_pipeline import crm, do_import

from einklang.config import LoadedConfig
from einklang.importer.apply import apply_review
from einklang.importer.review import (
    ReviewCandidate,
    ReviewFileError,
    ReviewRow,
    column_label,
    read_review,
    write_review,
)
from einklang.importer.undo import undo_run
from einklang.store import schema as t
from einklang.store.state import StateStore


def count_exclusions(store: StateStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.match_exclusions)).scalar_one())


FIELDS = ("first_name", "last_name", "email", "phone")


def sample_row() -> ReviewRow:
    return ReviewRow(
        review_id="R1",
        kind="contact",
        verdict="possible",
        score=0.93,
        reasons=["last_name: exact", "email: same"],
        sources=["a.csv:3", "b.csv:7"],
        status="waiting",
        incoming={"first_name": "Jürgen", "last_name": "Müller"},
        candidates=[
            ReviewCandidate("17", "v1", 0.93, {"first_name": "Juergen", "email": "j@x.de"}),
            ReviewCandidate("18", None, 0.6, {"first_name": "J."}),
        ],
        fingerprints=["abc", "def"],
        system="crm",
        entity="contact",
        run_id=4,
        golden_id=None,
    )


@pytest.mark.parametrize(("name", "lang"), [("r.xlsx", "en"), ("r.xlsx", "de"), ("r.csv", "en"), ("r.csv", "de")])
def test_review_file_round_trip(tmp_path: Path, name: str, lang: str) -> None:
    path = write_review(tmp_path / name, [sample_row()], FIELDS, lang)
    [row] = read_review(path)
    original = sample_row()
    assert row.incoming == original.incoming
    assert [c.native_id for c in row.candidates] == ["17", "18"]
    assert row.candidates[0].values == original.candidates[0].values
    assert row.candidates[0].version == "v1"
    assert row.sources == original.sources and row.fingerprints == original.fingerprints
    assert (row.system, row.entity, row.run_id, row.decision) == ("crm", "contact", 4, None)


def test_decisions_in_german_labels_are_read(tmp_path: Path) -> None:
    path = write_review(tmp_path / "r.xlsx", [sample_row()], FIELDS, "de")
    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    assert "Entscheidung" in header
    sheet.cell(2, header.index("Entscheidung") + 1).value = "zusammenführen"
    sheet.cell(2, header.index(column_label("take_email", FIELDS, "de")) + 1).value = "Import"
    sheet.cell(2, header.index(column_label("merge_into", FIELDS, "de")) + 1).value = 2
    workbook.save(path)
    [row] = read_review(path)
    assert row.decision == "merge" and row.take == {"email": "incoming"} and row.merge_into == 2
    # the dropdowns are there
    validations = sheet.data_validations.dataValidation
    assert any("zusammenführen" in str(v.formula1) for v in validations)


def test_unknown_decision_is_a_clear_error(tmp_path: Path) -> None:
    path = write_review(tmp_path / "r.csv", [sample_row()], FIELDS, "en")
    text = path.read_text(encoding="utf-8-sig").replace("R1,contact,,", "R1,contact,maybe,")
    path.write_text(text, encoding="utf-8-sig")
    with pytest.raises(ReviewFileError, match="unknown decision 'maybe'"):
        read_review(path)


def decide(path: Path, out: Path, decisions: dict[tuple[str, str], tuple[str, dict[str, str]]]) -> None:
    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    header = [str(cell.value) for cell in sheet[1]]
    column = {label: index + 1 for index, label in enumerate(header)}
    for row in range(2, sheet.max_row + 1):
        key = (
            str(sheet.cell(row, column["first_name (incoming)"]).value or ""),
            str(sheet.cell(row, column["last_name (incoming)"]).value or ""),
        )
        if key in decisions:
            decision, take = decisions[key]
            sheet.cell(row, column["Decision"]).value = decision
            for field, choice in take.items():
                sheet.cell(row, column[f"{field}: take"]).value = choice
    workbook.save(out)


def test_apply_merge_create_skip_not_duplicate_and_undo(
    world: tuple[LoadedConfig, StateStore, list[Path]],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    config, store, exports = world
    report = do_import(config, store, exports, review_path=tmp_path / "review.xlsx")
    decided = tmp_path / "decided.xlsx"
    decide(
        tmp_path / "review.xlsx",
        decided,
        {
            ("Katrin", "Hoffmann"): ("merge", {}),  # fill the empty fields of the CRM record
            ("Lena", "Fischer"): ("merge", {"email": "incoming"}),  # overwrite the old address
            ("Thomass", "Müller"): ("not-duplicate", {}),
            ("Katrinn", "Hoffmann"): ("skip", {}),
        },
    )
    before: Any = {r.first_name: r for r in crm(config, "SELECT * FROM contacts")}
    applied = apply_review(config, store, decided)
    assert (applied.merged, applied.created, applied.skipped, applied.not_duplicate, applied.failed) == (2, 1, 1, 1, 0)
    after: Any = {r.first_name: r for r in crm(config, "SELECT * FROM contacts")}
    assert before["Katrin"].email is None and after["Katrin"].email.startswith("k.hoffmann@")
    assert after["Katrin"].mobile is not None
    assert after["Lena"].email.endswith("@" + after["Lena"].email.split("@")[1]) and "gmx" not in after["Lena"].email
    assert "Thomass" in after  # created as a person of its own
    assert count_exclusions(store) == 1  # Thomass vs the Thomas the import created
    # applying the same file again creates nothing and changes no value
    again = apply_review(config, store, decided)
    assert again.already_applied == 4 and again.created == 0 and again.failed == 0  # every decided row
    assert {r.first_name: r for r in crm(config, "SELECT * FROM contacts")} == after
    # a rerun of the import proposes nothing decided again
    rerun = do_import(config, store, exports, review_path=tmp_path / "again.xlsx")
    assert rerun.created == 0 and rerun.to_review == 0
    # undo of the review run: merged values back, created record gone, decisions forgotten
    assert applied.run_id is not None
    undone = undo_run(config, store, applied.run_id)
    assert undone.failed == 0 and undone.restored == 2 and undone.deleted == 1
    restored: Any = {r.first_name: r for r in crm(config, "SELECT * FROM contacts")}
    assert restored["Katrin"].email is None and restored["Lena"].email == "lena.fischer@gmx.de"
    assert "Thomass" not in restored
    assert count_exclusions(store) == 0
    assert report.run_id is not None

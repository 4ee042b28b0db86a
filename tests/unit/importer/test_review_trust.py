"""`review apply` does not trust the review file (issue "Hardening" 3): system, entity, candidates
and incoming values come from what the import stored; every row is checked before the first write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from tests.unit.importer.demo_world import world  # noqa: F401 - fixture
from tests.unit.importer.test_pipeline import crm, do_import
from tests.unit.importer.test_review import decide

from einklang.config import LoadedConfig
from einklang.importer.apply import apply_review
from einklang.importer.undo import undo_run
from einklang.store.state import StateStore

World = tuple[LoadedConfig, StateStore, list[Path]]
DECISIONS = {
    ("Katrin", "Hoffmann"): ("merge", {}),
    ("Lena", "Fischer"): ("merge", {"email": "incoming"}),
    ("Thomass", "Müller"): ("not-duplicate", {}),
    ("Katrinn", "Hoffmann"): ("skip", {}),
}


def edit(path: Path, first_name: str, values: dict[str, Any], *, copy_as: str | None = None) -> int:
    """Change cells (by header label) of the row of ``first_name``; ``copy_as``: append a copy with that
    review number instead. Returns the line edited."""
    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    header = [str(cell.value) for cell in sheet[1]]
    line = next(
        r
        for r in range(2, sheet.max_row + 1)
        if sheet.cell(r, header.index("first_name (incoming)") + 1).value == first_name
    )
    if copy_as is not None:
        sheet.append([cell.value for cell in sheet[line]])
        line = sheet.max_row
        values = {"Review no.": copy_as, **values}
    for label, value in values.items():
        sheet.cell(line, header.index(label) + 1).value = value
    workbook.save(path)
    return line


@pytest.fixture
def decided(world: World, tmp_path: Path) -> Path:  # noqa: F811
    config, store, exports = world
    do_import(config, store, exports, review_path=tmp_path / "review.xlsx")
    path = tmp_path / "decided.xlsx"
    decide(tmp_path / "review.xlsx", path, DECISIONS)
    return path


def contacts(config: LoadedConfig) -> dict[str, Any]:
    return {f"{r.first_name} {r.last_name}": tuple(r) for r in crm(config, "SELECT * FROM contacts")}


def test_changed_candidate_id_is_refused_and_nothing_is_applied(world: World, decided: Path) -> None:  # noqa: F811
    config, store, _ = world
    before = contacts(config)
    other = next(r.id for r in crm(config, "SELECT id, first_name FROM contacts") if r.first_name == "Jürgen")
    line = edit(decided, "Lena", {"candidate 1 id": str(other)})
    report = apply_review(config, store, decided)
    assert not report.applied and report.refused == 1 and report.run_id is None
    [failure] = report.failures
    assert failure.startswith(f"{decided}:{line} (R2): the row differs from what import run ")
    assert f"candidate ids {other} (the import wrote " in failure
    assert report.merged == report.created == report.skipped == 0
    assert contacts(config) == before  # neither Jürgen nor the rows before it were touched


def test_hidden_system_and_entity_are_not_trusted(world: World, decided: Path) -> None:  # noqa: F811
    config, store, _ = world
    crm_before = crm(config, "SELECT COUNT(*) FROM contacts")
    line = edit(decided, "Thomass", {"system": "erp", "entity": "company"})
    report = apply_review(config, store, decided)
    assert report.refused == 1 and f"{decided}:{line}" in report.failures[0]
    assert "system 'erp'" in report.failures[0] and "entity 'company'" in report.failures[0]
    assert crm(config, "SELECT COUNT(*) FROM contacts") == crm_before
    # --partial applies the other rows; the refused one is still refused, nothing reached the ERP
    partial = apply_review(config, store, decided, partial=True)
    assert partial.applied and partial.refused == 1 and (partial.merged, partial.skipped) == (2, 1)
    assert partial.created == 0 and "Thomass Müller" not in contacts(config)


def test_an_extra_row_is_refused_on_every_apply(world: World, decided: Path) -> None:  # noqa: F811
    config, store, _ = world
    line = edit(decided, "Thomass", {"fingerprints": None, "first_name (incoming)": "Extra"}, copy_as="R99")
    for _ in range(2):
        report = apply_review(config, store, decided, partial=True)
        assert report.refused == 1 and report.failures[0].startswith(f"{decided}:{line} (R99): ")
    names = [r.first_name for r in crm(config, "SELECT first_name FROM contacts")]
    assert "Extra" not in names and names.count("Thomass") == 1  # created once, by its own row


def test_a_bad_row_in_the_middle_applies_nothing(world: World, decided: Path) -> None:  # noqa: F811
    config, store, _ = world
    before = contacts(config)
    line = edit(decided, "Lena", {"Merge into candidate": 3})  # there is one candidate
    report = apply_review(config, store, decided)
    assert not report.applied and report.failures == [
        f"{decided}:{line} (R2): merge into candidate 3: there is no such candidate"
    ]
    assert contacts(config) == before


def test_incoming_values_come_from_the_store_and_each_row_is_applied_once(world: World, decided: Path) -> None:  # noqa: F811
    config, store, _ = world
    edit(decided, "Lena", {"email (incoming)": '=HYPERLINK("http://evil.example","y")'})
    report = apply_review(config, store, decided)
    assert report.failed == 0 and report.merged == 2
    lena = next(r for r in crm(config, "SELECT first_name, email FROM contacts") if r.first_name == "Lena")
    assert lena.email != "lena.fischer@gmx.de" and "evil" not in lena.email and "@" in lena.email
    again = apply_review(config, store, decided)
    assert again.already_applied == 4 and again.run_id is None
    assert (again.merged, again.created, again.skipped, again.failed) == (0, 0, 0, 0)
    # an undone review run opens its rows again
    assert report.run_id is not None
    undo_run(config, store, report.run_id)
    third = apply_review(config, store, decided)
    assert (third.created, third.skipped, third.not_duplicate, third.already_applied) == (1, 1, 1, 0)
    # the merged records changed since the review saw them (the undo wrote them): refused, not overwritten
    assert third.merged == 0 and third.failed == 2 and "changed after the review file" in third.failures[0]


def test_dry_run_reports_the_true_plan(world: World, decided: Path) -> None:  # noqa: F811
    config, store, _ = world
    before = contacts(config)
    plan = apply_review(config, store, decided, dry_run=True)
    assert (plan.merged, plan.created, plan.skipped, plan.not_duplicate, plan.failed) == (2, 1, 1, 1, 0)
    assert len(plan.plan) == 4 and all("line" in item for item in plan.plan)
    assert contacts(config) == before
    applied = apply_review(config, store, decided)
    assert (applied.merged, applied.created, applied.skipped, applied.not_duplicate) == (2, 1, 1, 1)

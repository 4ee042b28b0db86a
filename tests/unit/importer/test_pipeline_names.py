"""A contact with only an e-mail address: imported with a derived name, or reviewed when the target needs one."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from einklang.config import LoadedConfig, load_config
from einklang.demo import import_step as demo_step
from einklang.demo import scenario
from einklang.importer.apply import apply_review
from einklang.importer.pipeline import run_import
from einklang.importer.review import read_review
from einklang.importer.run_report import ImportReport
from einklang.store.state import StateStore, open_store
from einklang.systems import open_connector

EXPORT = "First Name,Last Name,E-mail Address\r\n,,hans.mueller@example.de\r\nEva,Lang,eva.lang@example.de\r\n"


def _world(tmp_path: Path, *, last_name_required: bool) -> tuple[LoadedConfig, StateStore, Path]:
    config_path = scenario.build(tmp_path, customer_count=5)
    demo_step.add_contact_entity(config_path)
    if last_name_required:
        text = config_path.read_text(encoding="utf-8")
        contact = text.index("\n  contact:")
        head, tail = text[:contact], text[contact:]
        tail = tail.replace("      last_name: str\n", "      last_name: {type: str, required: true}\n", 1)
        config_path.write_text(head + tail, encoding="utf-8")
    export = tmp_path / "export.csv"
    export.write_text(EXPORT, encoding="utf-8")
    config = load_config(config_path)
    return config, open_store(config.state_url), export


def _import(config: LoadedConfig, store: StateStore, export: Path, tmp_path: Path) -> ImportReport:
    with open_connector(config, "crm") as connector:
        return run_import(config, store, connector, [export], entity="contact", review_path=tmp_path / "r.xlsx")


@pytest.mark.parametrize("required", [False, True])
def test_email_only_contact(tmp_path: Path, required: bool) -> None:
    config, store, export = _world(tmp_path, last_name_required=required)
    report = _import(config, store, export, tmp_path)
    assert report.rows_read == 2 and report.rows_usable == 2
    if required:
        assert report.created == 1 and report.waiting == 1
        [row] = read_review(tmp_path / "r.xlsx")
        assert row.incoming["last_name"] == "Hans Mueller" and row.incoming["email"] == "hans.mueller@example.de"
        assert any("derived from the e-mail address" in reason for reason in row.reasons)
        assert row.candidates == []
    else:
        assert report.created == 2 and report.waiting == 0


def test_a_reviewed_contact_without_a_name_can_be_created(tmp_path: Path) -> None:
    config, store, export = _world(tmp_path, last_name_required=True)
    _import(config, store, export, tmp_path)
    workbook = load_workbook(tmp_path / "r.xlsx")
    sheet = workbook.active
    assert sheet is not None
    header = [str(cell.value) for cell in sheet[1]]
    sheet.cell(2, header.index("Decision") + 1).value = "create"
    workbook.save(tmp_path / "decided.xlsx")
    applied = apply_review(config, store, tmp_path / "decided.xlsx")
    assert (applied.created, applied.failed) == (1, 0)
    engine = sa.create_engine(f"sqlite:///{config.base_dir / 'crm.db'}")
    with engine.connect() as conn:
        names = {row.last_name for row in conn.execute(sa.text("SELECT last_name FROM contacts"))}
    engine.dispose()
    assert {"Lang", "Hans Mueller"} <= names

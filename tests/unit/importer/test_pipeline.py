from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.store_reads import read

from einklang.config import LoadedConfig, load_config
from einklang.demo import import_step as demo_step
from einklang.demo import scenario
from einklang.importer.checks import dedupe_system
from einklang.importer.pipeline import run_import
from einklang.importer.run_report import ImportReport
from einklang.importer.undo import UndoError, undo_run
from einklang.store import journal, links
from einklang.store.state import StateStore, open_store
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector


def crm(config: LoadedConfig, sql: str) -> list[Any]:
    engine = sa.create_engine(f"sqlite:///{config.base_dir / 'crm.db'}")
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text(sql)))
    engine.dispose()
    return rows


def do_import(config: LoadedConfig, store: StateStore, files: list[Path], **kwargs: Any) -> ImportReport:
    with open_connector(config, "crm") as connector:
        return run_import(config, store, connector, files, entity="contact", **kwargs)


def test_import_merges_input_creates_new_links_sure_and_reviews_possible(
    world: tuple[LoadedConfig, StateStore, list[Path]],
    tmp_path: Path,
) -> None:
    config, store, exports = world
    report = do_import(config, store, exports, review_path=tmp_path / "review.xlsx")
    assert report.rows_read == 38 and report.rows_usable == 37  # one row without any name
    assert report.persons == 18 and report.merged_rows == 19  # one person in three exports is one record
    assert report.linked == 2  # Katrin Hoffmann and Lena Fischer were in the CRM already
    assert report.created == 14
    assert report.to_review == 4
    assert report.accounts_created == 1  # Elbe Software GmbH had no account
    assert report.failed == 0
    assert (tmp_path / "review.xlsx").is_file()
    contacts = crm(config, "SELECT first_name, last_name, email, account_id FROM contacts")
    assert len(contacts) == 3 + 14
    assert all(row.account_id is not None for row in contacts)
    # the existing records were linked, not changed
    lena = [r for r in contacts if r.first_name == "Lena"]
    assert [r.email for r in lena] == ["lena.fischer@gmx.de"]
    # umlaut spellings merged into one record that keeps the umlauts
    assert len([r for r in contacts if r.first_name == "Jürgen"]) == 1
    assert not [r for r in contacts if r.first_name == "Juergen"]
    # the colleague with the same surname (Martina Müller) was not taken for Jürgen
    assert len([r for r in contacts if r.last_name == "Müller"]) == 3
    # every create went through the outbox and is audited with the run id
    audit = read(store, journal.audit_log, run_id=report.run_id, limit=1000)
    assert len([e for e in audit if e.op == "create" and e.entity == "contact"]) == 14
    assert len([e for e in audit if e.op == "link"]) == 2


def test_rerun_creates_nothing_twice(world: tuple[LoadedConfig, StateStore, list[Path]], tmp_path: Path) -> None:
    config, store, exports = world
    do_import(config, store, exports, review_path=tmp_path / "r1.xlsx")
    before = crm(config, "SELECT count(*) FROM contacts")[0][0]
    again = do_import(config, store, exports, review_path=tmp_path / "r2.xlsx")
    assert again.created == 0 and again.linked == 0 and again.accounts_created == 0
    assert again.to_review == 2  # the two rows still waiting for a decision come back; linked ones do not
    assert again.already_imported == 37 - 2  # all but the two rows that wait for a decision
    assert crm(config, "SELECT count(*) FROM contacts")[0][0] == before
    # a second file with the same contacts under another name and order is recognised too
    renamed = tmp_path / "copy.csv"
    lines = exports[2].read_text(encoding="utf-8-sig").splitlines(keepends=True)
    renamed.write_text(lines[0] + "".join(reversed(lines[1:])), encoding="utf-8")
    third = do_import(config, store, [renamed], review_path=tmp_path / "r3.xlsx")
    assert third.created == 0


def test_dry_run_changes_nothing(world: tuple[LoadedConfig, StateStore, list[Path]]) -> None:
    config, store, exports = world
    report = do_import(config, store, exports, dry_run=True)
    assert report.created == 14 and report.linked == 2 and report.run_id is None
    assert {entry["action"] for entry in report.plan} >= {"create", "link", "review", "create-account"}
    assert crm(config, "SELECT count(*) FROM contacts")[0][0] == 3
    assert read(store, links.count_links, "crm", "contact") == 0


def test_undo_reverts_the_whole_import(world: tuple[LoadedConfig, StateStore, list[Path]], tmp_path: Path) -> None:
    config, store, exports = world
    accounts_before = crm(config, "SELECT count(*) FROM accounts")[0][0]
    report = do_import(config, store, exports, review_path=tmp_path / "review.xlsx")
    assert report.run_id is not None
    undone = undo_run(config, store, report.run_id)
    assert undone.failed == 0
    assert undone.deleted == 14 + 1 and undone.unlinked == 2
    assert crm(config, "SELECT count(*) FROM contacts")[0][0] == 3
    assert crm(config, "SELECT count(*) FROM accounts")[0][0] == accounts_before
    assert read(store, links.count_links, "crm", "contact") == 0
    assert any(e.op == "delete" for e in read(store, journal.audit_log, run_id=undone.run_id, limit=100))
    with pytest.raises(UndoError):
        undo_run(config, store, report.run_id)
    # after the undo the same import starts from scratch
    again = do_import(config, store, exports, review_path=tmp_path / "again.xlsx")
    assert again.created == 14


def test_import_leaves_crm_without_duplicates_after_demo_decisions(tmp_path: Path) -> None:
    config_path = scenario.build(tmp_path, customer_count=40)
    config = load_config(config_path)
    store = open_store(config.state_url)
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm_connector:
        run_initial_load(config, store, "company", erp, crm_connector)
    said: list[str] = []
    summary = demo_step.run_import_demo(tmp_path, config_path, said.append)
    assert summary["review"]["failed"] == 0 and summary["review"]["undecided"] == 0
    assert summary["rerun"]["created"] == 0
    config = load_config(config_path)
    with open_connector(config, "crm") as connector:
        assert dedupe_system(config, connector, "contact") == []
    lena = crm(config, "SELECT email FROM contacts WHERE first_name = 'Lena'")
    assert [r.email for r in lena] == ["lena.fischer@hofmann-hauste.de"] or len(lena) == 1

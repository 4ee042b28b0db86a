"""The sync cycle against memory systems: propagation, echoes, conflicts, ownership, creates,
deletes, outages, rejected records, crashes and dry runs."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.store_reads import read

from einklang.store import changes, conflicts, journal
from einklang.store import schema as t

from .harness import World


class Crash(Exception):
    pass


def test_new_record_is_created_once_and_changes_flow_both_ways(tmp_path: Path) -> None:
    w = World(tmp_path)
    erp_id = w.add("erp", number="K1", name="Alpha GmbH", email="a@alpha.de", phone="030 1234567", city="Berlin")
    w.settle()
    crm_id, crm = next(iter(w.rows("crm").items()))
    assert crm["name"] == "Alpha GmbH" and crm["phone"] == "+49301234567"
    assert w.systems["crm"].records("customer")[crm_id]["einklang_id"]  # correlation written
    w.edit("crm", crm_id, email="new@alpha.de")
    w.edit("erp", erp_id, phone="030 7654321")
    w.settle()
    assert w.rows("erp")[erp_id]["email"] == "new@alpha.de"
    assert w.rows("crm")[crm_id]["phone"] == "+49307654321"
    assert len(w.rows("crm")) == 1


def test_quiet_cycle_writes_nothing_and_calls_only_the_change_feed(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", number="K1", name="Alpha")
    w.settle()
    calls = {name: system.calls for name, system in w.systems.items()}
    report = w.sync()
    assert not report.busy and report.run_id is None
    assert {name: system.calls - calls[name] for name, system in w.systems.items()} == {"erp": 1, "crm": 1}


def test_existing_record_with_the_same_key_is_linked_not_duplicated(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", number="K1", name="Alpha GmbH", city="Berlin")
    w.add("crm", number="K1", name="Alpha GmbH", email="info@alpha.de")
    w.settle()
    assert len(w.rows("crm")) == 1 and len(w.rows("erp")) == 1
    assert next(iter(w.rows("erp").values()))["email"] == "info@alpha.de"  # a value only one side had
    assert next(iter(w.rows("crm").values()))["city"] == "Berlin"


def test_conflict_is_held_resolved_and_audited(tmp_path: Path) -> None:
    w = World(tmp_path)
    erp_id = w.add("erp", number="K1", name="Alpha", city="Berlin")
    w.settle()
    crm_id = next(iter(w.rows("crm")))
    w.edit("erp", erp_id, city="München", name="Alpha AG")
    w.edit("crm", crm_id, city="Hamburg")
    w.settle()
    assert w.rows("crm")[crm_id]["name"] == "Alpha AG"  # the other field still syncs
    with w.store.engine.connect() as conn:
        [conflict] = conflicts.list_conflicts(conn)
        assert conflict.values == {"erp": "München", "crm": "Hamburg"}
        conflicts.decide_conflict(conn, conflict.id, {"take": "crm", "by": "test"})
        conn.commit()
    w.settle()
    assert w.rows("erp")[erp_id]["city"] == "Hamburg"
    log = read(w.store, journal.audit_log, golden_id=conflict.golden_id)
    assert any(e.op == "resolve" and "take crm" in e.cause for e in log)
    assert any(e.op == "update" and e.system == "erp" and e.new == {"city": "Hamburg"} for e in log)


def test_leader_and_ownership_from_config(tmp_path: Path) -> None:
    sync = """
conflicts: {leader: erp}
fields:
  number: {owner: erp, on_violation: revert}
  phone: {owner: erp}
"""
    w = World(tmp_path, sync=sync)
    erp_id = w.add("erp", number="K1", name="Alpha", phone="030 111")
    w.settle()
    crm_id = next(iter(w.rows("crm")))
    w.edit("erp", erp_id, name="Alpha ERP")
    w.edit("crm", crm_id, name="Alpha CRM", number="K9", phone="030 999")
    w.settle()
    assert w.rows("crm")[crm_id]["name"] == "Alpha ERP"  # leader wins
    assert w.rows("crm")[crm_id]["number"] == "K1"  # reverted
    assert w.rows("crm")[crm_id]["phone"] == "030 999"  # reported, kept, not propagated
    assert w.rows("erp")[erp_id]["phone"] == "030 111"
    kinds = [p["kind"] for p in read(w.store, journal.problems)]
    assert kinds.count("violation") == 2


def test_outage_waits_others_keep_syncing_and_pending_writes_arrive(tmp_path: Path) -> None:
    w = World(tmp_path, systems=["erp", "crm", "shop"])
    erp_id = w.add("erp", number="K1", name="Alpha", city="Berlin")
    w.settle()
    shop_id = next(iter(w.rows("shop")))
    crm_id = next(iter(w.rows("crm")))
    w.systems["shop"].down = True
    w.edit("erp", erp_id, city="Köln")
    report = w.sync()
    assert "shop" in report.entities[0].unavailable
    assert w.rows("crm")[crm_id]["city"] == "Köln"
    w.edit("crm", crm_id, name="Alpha KG")  # the others go on while shop is down
    w.sync()
    assert w.rows("erp")[erp_id]["name"] == "Alpha KG"
    w.systems["shop"].down = False
    w.settle()
    assert w.rows("shop")[shop_id] | {} == {**w.rows("shop")[shop_id], "city": "Köln", "name": "Alpha KG"}


def test_edit_in_a_system_that_was_down_is_checked_against_its_fresh_state(tmp_path: Path) -> None:
    w = World(tmp_path)
    erp_id = w.add("erp", number="K1", name="Alpha", city="Berlin")
    w.settle()
    crm_id = next(iter(w.rows("crm")))
    w.systems["crm"].down = True
    w.edit("erp", erp_id, city="Köln")
    w.sync()
    w.systems["crm"].down = False
    w.edit("crm", crm_id, city="Hamburg")  # made while einklang could not reach it
    w.settle()
    assert w.rows("crm")[crm_id]["city"] == "Hamburg"  # not overwritten blindly
    with w.store.engine.connect() as conn:
        assert [c.field for c in conflicts.list_conflicts(conn)] == ["city"]


def test_rejected_record_is_isolated_and_blocks_nothing(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.systems["crm"].rejected_values.add("BAD")
    w.add("erp", number="K1", name="BAD")
    w.add("erp", number="K2", name="Good")
    w.settle()
    assert [r["name"] for r in w.rows("crm").values()] == ["Good"]
    with w.store.engine.connect() as conn:
        failed = conn.execute(sa.select(t.outbox).where(t.outbox.c.status == "failed")).all()
    assert len(failed) == 1 and "refused" in failed[0].last_error
    assert any(p["kind"] == "rejected" for p in read(w.store, journal.problems))


@pytest.mark.parametrize(
    "point", ["after_create", "before_create", "captured_page", "new_golden", "after_update", "merged_golden"]
)
def test_crash_at_any_point_neither_loses_nor_doubles(tmp_path: Path, point: str) -> None:
    w = World(tmp_path)
    erp_id = w.add("erp", number="K1", name="Alpha")

    def crash(at: str) -> None:
        if at == point:
            raise Crash(at)

    w.fault = crash
    w.edit("erp", erp_id, city="Berlin")
    for _ in range(3):
        with contextlib.suppress(Crash):
            w.sync()
        w.engine = w.new_engine()
        w.edit("erp", erp_id, city="Köln")
    w.fault = None
    w.engine = w.new_engine()
    w.settle()
    assert len(w.rows("crm")) == 1
    assert next(iter(w.rows("crm").values()))["city"] == "Köln"


def test_deletes_propagate_behind_the_guard(tmp_path: Path) -> None:
    w = World(tmp_path, sync="deletes: propagate\ndelete_guard: 0.5")
    ids = [w.add("erp", number=f"K{i}", name=f"N{i}") for i in range(4)]
    w.settle()
    w.remove("erp", ids[0])
    w.settle()
    assert len(w.rows("crm")) == 3
    for nid in ids[1:]:
        w.remove("erp", nid)
    report = w.sync()
    assert report.entities[0].held_back and len(w.rows("crm")) == 3
    w.engine = w.new_engine(confirm_deletes=True)
    w.settle()
    assert w.rows("crm") == {}


def test_archive_sets_the_inactive_flag(tmp_path: Path) -> None:
    w = World(tmp_path, sync="deletes: archive\ndelete_guard: 1", archive=True)
    erp_id = w.add("erp", number="K1", name="Alpha")
    w.settle()
    w.remove("erp", erp_id)
    w.settle()
    assert [r["active"] for r in w.systems["crm"].records("customer").values()] == [False]


def test_dry_run_changes_nothing_anywhere(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", number="K1", name="Alpha")
    report = w.sync(dry_run=True)
    assert [p["action"] for p in report.entities[0].plan] == ["create"]
    assert w.rows("crm") == {}
    assert read(w.store, changes.get_cursor, "erp", "customer") is None
    w.settle()
    assert len(w.rows("crm")) == 1


def test_three_systems_merge_different_fields(tmp_path: Path) -> None:
    w = World(tmp_path, systems=["erp", "crm", "shop"])
    erp_id = w.add("erp", number="K1", name="Alpha")
    w.settle()
    crm_id, shop_id = next(iter(w.rows("crm"))), next(iter(w.rows("shop")))
    w.edit("erp", erp_id, city="Berlin")
    w.edit("crm", crm_id, email="a@alpha.de")
    w.edit("shop", shop_id, phone="030 555")
    w.settle()
    for system in ("erp", "crm", "shop"):
        row = next(iter(w.rows(system).values()))
        assert (row["city"], row["email"]) == ("Berlin", "a@alpha.de")
        assert row["phone"] in ("030 555", "+4930555")

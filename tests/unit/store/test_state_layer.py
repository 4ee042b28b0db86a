"""The state layer: typed rows, one function per operation, and the dry run's rolled-back view."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from einklang.store import changes, conflicts, journal, links, outbox
from einklang.store import schema as t
from einklang.store.rows import NewChange, PlannedWrite
from einklang.store.state import StateStore, open_store
from einklang.sync.cycle import RolledBackStore


def _store(tmp_path: Path) -> StateStore:
    return open_store(f"sqlite:///{tmp_path / 'state.db'}")


def test_links_keep_their_seen_record_and_decode_it_on_use(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.transaction() as conn:
        [golden_id] = links.insert_golden(conn, "company", [{"name": "Alpha", "city": "Köln"}])
        links.insert_link(conn, "company", "crm", golden_id, "7", "v1", {"name": "Alpha", "city": "Köln"})
        links.insert_links(conn, "company", "erp", [(golden_id, "K1", None, "hash")])
    with store.read() as conn:
        by_system = links.links_of_golden(conn, golden_id)
        assert links.links_of_goldens(conn, [golden_id]) == {golden_id: by_system}
        assert links.links_by_native(conn, "crm", "company", ["7", "8"]) == {"7": by_system["crm"]}
    assert by_system["crm"].seen == {"name": "Alpha", "city": "Köln"}
    assert by_system["erp"].seen is None and by_system["erp"].record_hash == "hash"
    assert by_system["crm"].tolerated == {}


def test_outbox_entries_come_back_typed_in_planned_order_and_finish_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.transaction() as conn:
        [golden_id] = links.insert_golden(conn, "company", [{"name": "Alpha"}])
        ids = outbox.add_outbox(
            conn,
            None,
            [
                PlannedWrite("crm", "company", golden_id, "create", {"name": "Alpha"}, "new record in erp"),
                PlannedWrite("crm", "company", golden_id, "update", {"name": "Beta"}, "changed in erp", "7", "v1"),
            ],
        )
    with store.read() as conn:
        entries = outbox.pending_outbox(conn, "crm", "company")
    assert [e.id for e in entries] == ids and [e.op for e in entries] == ["create", "update"]
    assert entries[1].payload == {"name": "Beta"} and entries[1].base_version == "v1"
    with store.transaction() as conn:
        outbox.note_sending(conn, ids[0], {"name": "Alpha"})
        outbox.finish_outbox(conn, ids[0], "done", native_id="7")
        outbox.finish_outbox(conn, [ids[1]], "failed", "refused")
    with store.read() as conn:
        assert outbox.pending_outbox(conn, "crm", "company") == []
        assert outbox.outbox_counts(conn, "crm", "company") == {"done": 1, "failed": 1}
        [failed] = outbox.failed_outbox(conn)
    assert failed.op == "update" and failed.last_error == "refused"


def test_conflicts_are_held_until_decided_and_closed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.transaction() as conn:
        [golden_id] = links.insert_golden(conn, "company", [{"city": "Bonn"}])
        conflict_id = conflicts.insert_conflict(
            conn, "company", golden_id, "city", "Bonn", {"erp": "Köln", "crm": "Kiel"}, "changed in both"
        )
    with store.read() as conn:
        assert conflicts.count_open_conflicts(conn, "company") == 1
        assert set(conflicts.held_conflicts(conn, golden_id)) == {"city"}
    with store.transaction() as conn:
        conflicts.decide_conflict(conn, conflict_id, {"take": "erp", "by": "anna"})
    with store.read() as conn:
        [decided] = conflicts.decided_conflicts(conn, "company")
        assert decided.resolution == {"take": "erp", "by": "anna"}
        assert set(conflicts.held_conflicts(conn, golden_id)) == {"city"}  # held until applied
    with store.transaction() as conn:
        conflicts.close_conflict(conn, conflict_id, {"take": "erp", "value": "Köln"})
    with store.read() as conn:
        assert conflicts.held_conflicts(conn, golden_id) == {}
        assert conflicts.get_conflict(conn, conflict_id).status == "resolved"  # type: ignore[union-attr]


def test_audit_entries_are_typed_newest_first(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.transaction() as conn:
        journal.audit(conn, None, [{"entity": "company", "op": "create", "new": {"name": "Ä"}, "cause": "first"}])
        journal.audit(conn, None, [{"entity": "company", "op": "update", "old": {"name": "Ä"}, "cause": "second"}])
    with store.read() as conn:
        entries = journal.audit_log(conn, entity="company")
    assert [e.cause for e in entries] == ["second", "first"]
    assert entries[1].new == {"name": "Ä"} and entries[0].old == {"name": "Ä"}


def test_a_rolled_back_store_sees_its_own_writes_and_keeps_none(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.engine.connect() as conn:
        transaction = conn.begin()
        view = RolledBackStore(store, conn)
        run_id = view.start_run("sync", None, {}, dry_run=True)
        with view.transaction() as inner:
            changes.insert_changes(inner, run_id, "company", [NewChange("erp", "K1", "delete")])
            changes.set_cursor(inner, "erp", "company", {"at": 5})
        with view.read() as inner:
            assert changes.get_cursor(inner, "erp", "company") == {"at": 5}
            assert len(changes.pending_changes(inner, "company", 0, 10)) == 1
        transaction.rollback()
    with store.read() as conn:
        assert changes.get_cursor(conn, "erp", "company") is None
        assert changes.pending_changes(conn, "company", 0, 10) == []
    with store.read() as conn:
        assert conn.execute(sa.select(t.runs)).first() is None

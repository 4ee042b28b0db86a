"""The one create path (initial load, import and sync use it): isolate refusals, link, audit."""

from __future__ import annotations

import json
from pathlib import Path

from tests.store_reads import read

from einklang.store import journal, links, outbox
from einklang.store.rows import PlannedWrite
from einklang.sync.creates import CreateItem, CreateTarget, native_for_create, send_creates
from einklang.testing.memory import MemoryConnector, MemorySystem

from .harness import World


def _planned(world: World, names: list[str]) -> list[CreateItem]:
    mapping = world.config.mapping("customer", "crm")
    with world.store.transaction() as conn:
        records = [{"number": f"K{i}", "name": name} for i, name in enumerate(names, start=1)]
        golden_ids = links.insert_golden(conn, "customer", records)
        outbox_ids = outbox.add_outbox(
            conn,
            None,
            [
                PlannedWrite("crm", "customer", gid, "create", record, "test")
                for gid, record in zip(golden_ids, records, strict=True)
            ],
        )
    return [
        CreateItem(gid, native_for_create(mapping, "einklang_id", gid, record), "test", outbox_id=oid, payload=record)
        for gid, oid, record in zip(golden_ids, outbox_ids, records, strict=True)
    ]


def _target(world: World, system: MemorySystem, keep_seen: bool) -> CreateTarget:
    connector = MemoryConnector("crm", {"store": system}, world.config.entities_of("crm"))
    return CreateTarget(
        world.store, connector, "customer", world.config.mapping("customer", "crm"), None, keep_seen=keep_seen
    )


def test_a_refused_record_is_isolated_and_the_others_go_in(tmp_path: Path) -> None:
    world = World(tmp_path)
    crm = world.systems["crm"]
    crm.rejected_values.add("BAD")
    items = _planned(world, ["Alpha", "BAD", "Gamma"])
    results = send_creates(_target(world, crm, keep_seen=False), items)
    assert [done.item.payload["name"] for done in results.created] == ["Alpha", "Gamma"]  # type: ignore[index]
    assert [(item.golden_id, "refused" in error) for item, error in results.refused] == [(items[1].golden_id, True)]
    assert sorted(r["name"] for r in crm.records("customer").values()) == ["Alpha", "Gamma"]
    assert read(world.store, outbox.outbox_counts, "crm", "customer") == {"done": 2, "failed": 1}
    assert read(world.store, links.count_links, "crm", "customer") == 2
    problems = read(world.store, journal.problems)
    assert [p["kind"] for p in problems] == ["rejected"] and problems[0]["golden_id"] == items[1].golden_id
    creates = [e for e in read(world.store, journal.audit_log) if e.op == "create"]
    assert {json.dumps(e.new, sort_keys=True) for e in creates} == {
        json.dumps({"name": "Alpha", "number": "K1"}, sort_keys=True),
        json.dumps({"name": "Gamma", "number": "K3"}, sort_keys=True),
    }


def test_the_sync_keeps_what_the_target_holds_and_reports_what_it_filled_in(tmp_path: Path) -> None:
    world = World(tmp_path)
    [item] = _planned(world, ["Alpha"])
    item.payload = {"name": "Alpha"}  # no number sent: the target fills one in below
    item.native.pop("external_id", None)
    crm = world.systems["crm"]
    original_insert = crm.insert

    def numbered(entity: str, fields: dict, native_id: str | None = None, changed: str | None = None) -> str:
        return original_insert(entity, {**fields, "external_id": "K99"}, native_id, changed=changed)

    crm.insert = numbered  # type: ignore[method-assign]
    [done] = send_creates(_target(world, crm, keep_seen=True), [item]).created
    assert done.observed is not None and done.observed["number"] == "K99"
    with world.store.read() as conn:
        link = links.links_of_golden(conn, item.golden_id)["crm"]
    # measured against "nothing there", so the number the CRM gave is merged as its change
    assert link.seen is not None and link.seen["number"] is None and link.seen["name"] == "Alpha"

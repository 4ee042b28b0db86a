"""A lost state store: sync refuses to start over loaded systems; relink links by keys, holds differences."""

from __future__ import annotations

from pathlib import Path

from tests.store_reads import read

from einklang.store import conflicts, links
from einklang.store.state import open_store
from einklang.sync.initial_load import run_initial_load

from .harness import World


def _loaded_world(tmp_path: Path) -> tuple[World, str]:
    world = World(tmp_path)
    world.add("erp", number="K1", name="Alpha", city="Köln")
    world.add("erp", number="K2", name="Beta", city="Bonn")
    world.settle()
    crm_alpha = next(nid for nid, row in world.rows("crm").items() if row["number"] == "K1")
    return world, crm_alpha


def _lose_the_state(world: World, tmp_path: Path) -> None:
    world.store.close()
    world.store = open_store(f"sqlite:///{tmp_path / 'new-state.db'}")
    world.engine = world.new_engine()


def test_sync_over_a_new_state_store_refuses_and_overwrites_nothing(tmp_path: Path) -> None:
    world, crm_alpha = _loaded_world(tmp_path)
    world.edit("crm", crm_alpha, city="Kiel")  # a CRM user's edit, made while the state is lost
    _lose_the_state(world, tmp_path)
    report = world.sync()
    [entity] = report.entities
    assert any("einklang relink customer" in message for message in entity.held_back)
    world.sync()
    assert world.rows("crm")[crm_alpha]["city"] == "Kiel"  # not overwritten with the ERP's Köln
    assert read(world.store, links.count_links, "crm", "customer") == 0


def test_relink_links_by_key_holds_differences_and_then_syncs(tmp_path: Path) -> None:
    world, crm_alpha = _loaded_world(tmp_path)
    world.edit("crm", crm_alpha, city="Kiel")
    _lose_the_state(world, tmp_path)
    connectors = world.connectors()
    report = run_initial_load(world.config, world.store, "customer", connectors["erp"], connectors["crm"], relink=True)
    assert (report.linked, report.created, report.conflicts) == (2, 0, 1)
    [held] = read(world.store, conflicts.list_conflicts)
    assert held.field == "city" and held.values == {"erp": "Köln", "crm": "Kiel"}
    world.settle()
    assert world.rows("crm")[crm_alpha]["city"] == "Kiel"  # held for a person, not overwritten
    assert {row["number"] for row in world.rows("crm").values()} == {"K1", "K2"}  # nothing doubled
    with world.store.transaction() as conn:
        conflicts.decide_conflict(conn, held.id, {"take": "crm", "by": "test"})
    world.settle()
    assert world.by_number("erp")["K1"]["city"] == "Kiel"


def test_relink_follows_the_leader_where_the_policy_names_one(tmp_path: Path) -> None:
    world = World(tmp_path, sync="fields: {city: {leader: erp}}")
    world.add("erp", number="K1", name="Alpha", city="Köln")
    world.settle()
    crm_alpha = next(iter(world.rows("crm")))
    world.edit("crm", crm_alpha, city="Kiel")
    _lose_the_state(world, tmp_path)
    connectors = world.connectors()
    report = run_initial_load(world.config, world.store, "customer", connectors["erp"], connectors["crm"], relink=True)
    assert report.conflicts == 0
    world.settle()
    assert world.rows("crm")[crm_alpha]["city"] == "Köln"

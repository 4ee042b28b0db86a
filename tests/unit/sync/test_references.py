"""References in the sync cycle: products pointing at product groups across three memory systems.

The ERP holds the group as a foreign key (its group number), the CRM as a foreign key to its
own group ids, the shop only as the group's name (``ref_value``). Creates run groups first; a
write whose group is not in the target yet waits in the outbox with the reason; a product whose
group points nowhere in the source is held and reported; moving a product moves it everywhere.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from tests.store_reads import read

from einklang.config import parse_config
from einklang.store import conflicts, journal, outbox, reports
from einklang.store.state import open_store
from einklang.sync.breaker import RetrySettings
from einklang.sync.engine import CycleReport, EngineOptions, SyncEngine
from einklang.testing.memory import MemoryConnector, MemorySystem

_unique = itertools.count()

CONFIG = """
systems:
  erp: {connector: memory}
  crm: {connector: memory}
  shop: {connector: memory}
entities:
  product:
    keys: [number]
    fields:
      number: str
      name: str
      group: {type: ref, entity: product_group}
    systems:
      erp: {map: {number: artnr, name: bezeichnung, group: warengruppe}, changed: modified}
      crm: {map: {number: sku, name: name, group: group_id}, changed: modified, correlation: einklang_id}
      shop:
        map: {number: sku, name: title, group: {column: category, ref_value: name}}
        changed: modified
        correlation: einklang_id
    sync: {conflicts: {leader: erp}}
  product_group:
    keys: [number]
    fields: {number: str, name: str}
    systems:
      erp: {map: {number: nr, name: bezeichnung}, changed: modified}
      crm: {map: {number: code, name: name}, changed: modified, correlation: einklang_id}
"""


class World:
    def __init__(self, tmp: Path, config: str = CONFIG) -> None:
        self.config = parse_config(config)
        self.store = open_store(f"sqlite:///{tmp / f'state{next(_unique)}.db'}")
        self.systems = {name: MemorySystem(name) for name in ("erp", "crm", "shop")}
        self.engine = self.new_engine()

    def new_engine(self) -> SyncEngine:
        connectors = {
            name: MemoryConnector(name, {"store": system}, self.config.entities_of(name))
            for name, system in self.systems.items()
        }
        retry = RetrySettings(attempts=2, initial_wait=0, max_wait=0, cooldown=0, max_cooldown=0)
        return SyncEngine(
            self.config, self.store, connectors, options=EngineOptions(retry=retry), sleep=lambda _s: None
        )

    def sync(self) -> CycleReport:
        return self.engine.run_cycle()

    def add(self, system: str, entity: str, native_id: str | None = None, **fields: Any) -> str:
        return self.systems[system].insert(entity, fields, native_id=native_id, changed="modified")

    def edit(self, system: str, entity: str, native_id: str, **fields: Any) -> None:
        self.systems[system].edit(entity, native_id, fields, changed="modified")

    def rows(self, system: str, entity: str) -> dict[str, dict[str, Any]]:
        return self.systems[system].records(entity)

    def by(self, system: str, entity: str, column: str) -> dict[Any, dict[str, Any]]:
        return {row.get(column): row | {"_id": nid} for nid, row in self.rows(system, entity).items()}


def test_groups_are_created_first_and_each_system_gets_its_own_form_of_the_reference(tmp_path: Path) -> None:
    w = World(tmp_path)
    # the product comes first in the ERP's data and in the config: the order is the references'
    w.add("erp", "product", artnr="A1", bezeichnung="Hammer", warengruppe="10")
    w.add("erp", "product_group", native_id="10", nr="10", bezeichnung="Werkzeuge")
    report = w.sync()
    assert [e.entity for e in report.entities] == ["product_group", "product"]
    crm_group = w.by("crm", "product_group", "code")["10"]
    assert crm_group["name"] == "Werkzeuge"
    hammer = w.by("crm", "product", "sku")["A1"]
    assert hammer["group_id"] == crm_group["_id"]  # the CRM's own id of the group
    assert w.by("shop", "product", "sku")["A1"]["category"] == "Werkzeuge"  # the group's name
    assert report.entities[1].waiting == 0


def test_moving_a_product_to_another_group_moves_it_everywhere(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", "product_group", native_id="10", nr="10", bezeichnung="Werkzeuge")
    w.add("erp", "product_group", native_id="20", nr="20", bezeichnung="Garten")
    hammer = w.add("erp", "product", artnr="A1", bezeichnung="Hammer", warengruppe="10")
    w.sync()
    w.edit("erp", "product", hammer, warengruppe="20")
    w.sync()
    garden = w.by("crm", "product_group", "code")["20"]["_id"]
    assert w.by("crm", "product", "sku")["A1"]["group_id"] == garden
    assert w.by("shop", "product", "sku")["A1"]["category"] == "Garten"
    # and back from the shop, where the group is only a name (a different case is the same name)
    shop_id = w.by("shop", "product", "sku")["A1"]["_id"]
    w.edit("shop", "product", shop_id, category="werkzeuge")
    w.sync()
    w.sync()
    assert w.rows("erp", "product")[hammer]["warengruppe"] == "10"
    assert w.by("crm", "product", "sku")["A1"]["group_id"] == w.by("crm", "product_group", "code")["10"]["_id"]


def test_a_write_waits_for_its_reference_and_goes_out_when_it_resolves(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", "product_group", native_id="10", nr="10", bezeichnung="Werkzeuge")
    w.systems["crm"].rejected_values.add("Werkzeuge")  # the CRM refuses the group for now
    w.add("erp", "product", artnr="A1", bezeichnung="Hammer", warengruppe="10")
    w.add("erp", "product", artnr="A2", bezeichnung="Zange", warengruppe=None)
    report = w.sync()
    products = report.entities[1]
    assert products.waiting == 1
    assert set(w.by("crm", "product", "sku")) == {"A2"}  # a wait blocks no other record
    assert w.by("shop", "product", "sku")["A1"]["category"] == "Werkzeuge"  # nor other systems
    [waiting] = read(w.store, outbox.waiting_outbox, "product")
    assert waiting.system == "crm" and waiting.last_error is not None
    assert "group -> product_group 'Werkzeuge'" in waiting.last_error and "not yet in crm" in waiting.last_error
    # a person enters the group in the CRM: it is linked by its key, and the product follows
    w.systems["crm"].rejected_values.clear()
    w.add("crm", "product_group", code="10", name="Werkzeuge")
    w.sync()
    crm_group = w.by("crm", "product_group", "code")["10"]
    assert w.by("crm", "product", "sku")["A1"]["group_id"] == crm_group["_id"]
    assert read(w.store, outbox.waiting_outbox, "product") == []


def test_a_reference_that_points_nowhere_holds_the_record_and_is_reported(tmp_path: Path) -> None:
    w = World(tmp_path)
    bad = w.add("erp", "product", artnr="A9", bezeichnung="Säge", warengruppe="99")
    w.add("erp", "product", artnr="A1", bezeichnung="Hammer", warengruppe=None)
    report = w.sync()
    assert set(w.by("crm", "product", "sku")) == {"A1"}  # not created without its group
    assert "A9" not in w.by("shop", "product", "sku")
    assert any("held" in message for message in report.entities[1].held_back)
    [problem] = [p for p in read(w.store, journal.problems) if p["kind"] == "dangling_reference"]
    assert (problem["system"], problem["native_id"], problem["field"]) == ("erp", bad, "group")
    assert "99" in problem["message"]
    with w.store.engine.connect() as conn:  # what `einklang status` lists
        assert [(h["system"], h["native_id"], h["field"]) for h in reports.held_records(conn)] == [
            ("erp", bad, "group")
        ]
    w.sync()
    assert "A9" not in w.by("crm", "product", "sku")  # still held, still not created
    # the group is entered in the ERP afterwards: the held product follows, with its group
    w.add("erp", "product_group", native_id="99", nr="99", bezeichnung="Sägen")
    w.sync()
    assert w.by("crm", "product", "sku")["A9"]["group_id"] == w.by("crm", "product_group", "code")["99"]["_id"]
    assert w.by("shop", "product", "sku")["A9"]["category"] == "Sägen"
    with w.store.engine.connect() as conn:
        assert reports.held_records(conn) == []


def test_a_reference_to_a_deleted_group_is_reported_not_sent(tmp_path: Path) -> None:
    config = CONFIG.replace(
        "    keys: [number]\n    fields: {number: str, name: str}",
        "    keys: [number]\n    fields: {number: str, name: str}\n    sync: {deletes: propagate, delete_guard: 1}",
    )
    w = World(tmp_path, config)
    w.add("erp", "product_group", native_id="10", nr="10", bezeichnung="Werkzeuge")
    w.add("erp", "product_group", native_id="20", nr="20", bezeichnung="Garten")
    hammer = w.add("erp", "product", artnr="A1", bezeichnung="Hammer", warengruppe="10")
    w.sync()
    crm_product = w.by("crm", "product", "sku")["A1"]["_id"]
    w.systems["erp"].remove("product_group", "20")
    w.sync()
    assert "20" not in w.by("crm", "product_group", "code")
    # the product is moved to the group that is gone: the CRM keeps its old group, a problem says why
    w.edit("erp", "product", hammer, warengruppe="20")
    w.sync()
    assert w.rows("crm", "product")[crm_product]["group_id"] == w.by("crm", "product_group", "code")["10"]["_id"]
    kinds = {p["kind"] for p in read(w.store, journal.problems)}
    assert "dangling_reference" in kinds


def test_a_conflict_on_a_reference_names_the_referenced_records(tmp_path: Path) -> None:
    w = World(tmp_path, CONFIG.replace("    sync: {conflicts: {leader: erp}}\n", ""))
    w.add("erp", "product_group", native_id="10", nr="10", bezeichnung="Werkzeuge")
    w.add("erp", "product_group", native_id="20", nr="20", bezeichnung="Garten")
    w.add("erp", "product_group", native_id="30", nr="30", bezeichnung="Elektro")
    hammer = w.add("erp", "product", artnr="A1", bezeichnung="Hammer", warengruppe="10")
    w.sync()
    w.edit("erp", "product", hammer, warengruppe="20")
    crm_product = w.by("crm", "product", "sku")["A1"]["_id"]
    w.edit("crm", "product", crm_product, group_id=w.by("crm", "product_group", "code")["30"]["_id"])
    w.sync()
    with w.store.engine.connect() as conn:
        [conflict] = conflicts.list_conflicts(conn)
    assert conflict.field == "group"
    assert "last agreed 'Werkzeuge'" in conflict.reason
    assert "erp 'Garten'" in conflict.reason and "crm 'Elektro'" in conflict.reason
    # nothing was written with either side's group while the conflict waits
    assert w.rows("crm", "product")[crm_product]["group_id"] == w.by("crm", "product_group", "code")["30"]["_id"]
    assert w.rows("erp", "product")[hammer]["warengruppe"] == "20"

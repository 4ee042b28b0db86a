"""The initial load into a system added to a running installation, and loads with references.

Issue 12, item 6, as an administrator met it: the customers of the ERP and the CRM were linked;
an address book was added to the entity; `load customer --from crm --to book` must fill it
(it answered "failed: linked to a golden record without a target link" and the sync then did
nothing). And a load of products before their groups: the products wait, then follow.
"""

from __future__ import annotations

from pathlib import Path

from tests.store_reads import read

from einklang.config import parse_config
from einklang.store import journal, outbox, reports
from einklang.sync.initial_load import run_initial_load
from einklang.testing.memory import MemoryConnector

from .harness import World, config_text
from .test_references import World as ProductWorld


def _book_added(w: World) -> None:
    w.names = ["erp", "crm", "shop"]
    w.config = parse_config(config_text(w.names))
    from einklang.testing.memory import MemorySystem

    w.systems["shop"] = MemorySystem("shop")
    w.engine = w.new_engine()


def _connector(w: World, name: str) -> MemoryConnector:
    return MemoryConnector(name, {"store": w.systems[name]}, w.config.entities_of(name))


def test_load_into_a_system_added_later_fills_it_and_the_sync_keeps_it(tmp_path: Path) -> None:
    w = World(tmp_path)
    for number in range(1, 18):
        w.add("erp", number=f"K{number}", name=f"Firma {number}", city="Berlin")
    w.settle()
    assert len(w.rows("crm")) == 17
    _book_added(w)
    with w.store.engine.connect() as conn:
        before = reports.entity_status(conn, "customer", w.names)["systems"]
    assert [s["not_loaded"] for s in before] == [False, False, True]  # `status`: configured, not loaded yet
    report = run_initial_load(w.config, w.store, "customer", _connector(w, "crm"), _connector(w, "shop"))
    assert (report.created, report.failed, report.linked) == (17, 0, 0)
    with w.store.engine.connect() as conn:
        assert not any(s["not_loaded"] for s in reports.entity_status(conn, "customer", w.names)["systems"])
    assert set(w.by_number("shop")) == {f"K{n}" for n in range(1, 18)}
    w.settle()
    assert len(w.rows("shop")) == 17  # nothing doubled by the sync
    erp_id = next(nid for nid, row in w.rows("erp").items() if row["number"] == "K3")
    w.edit("erp", erp_id, city="Hamburg")
    w.settle()
    assert w.by_number("shop")["K3"]["city"] == "Hamburg"  # and the new system is in the sync


def test_load_into_a_system_added_later_links_what_it_already_holds(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", number="K1", name="Alpha", city="Berlin")
    w.add("erp", number="K2", name="Beta", city="Bonn")
    w.settle()
    _book_added(w)
    w.add("shop", number="K1", name="Alpha", city="Köln")  # entered there by hand before
    report = run_initial_load(w.config, w.store, "customer", _connector(w, "crm"), _connector(w, "shop"))
    assert (report.linked, report.created) == (1, 1)
    w.settle()
    assert len(w.rows("shop")) == 2
    assert w.by_number("shop")["K1"]["city"] == "Berlin"  # the agreed value, planned as an update


def test_products_loaded_before_their_groups_wait_and_follow(tmp_path: Path) -> None:
    w = ProductWorld(tmp_path)
    w.add("erp", "product_group", native_id="10", nr="10", bezeichnung="Werkzeuge")
    w.add("erp", "product", artnr="A1", bezeichnung="Hammer", warengruppe="10")
    w.add("erp", "product", artnr="A2", bezeichnung="Zange", warengruppe=None)
    w.add("erp", "product", artnr="A3", bezeichnung="Säge", warengruppe="77")

    def connector(name: str) -> MemoryConnector:
        return MemoryConnector(name, {"store": w.systems[name]}, w.config.entities_of(name))

    # the group is linked in the ERP (the sync saw it) but not yet loaded into the CRM
    w.engine.run_cycle(entities=["product_group"])
    w.systems["crm"].entities.clear()
    report = run_initial_load(w.config, w.store, "product", connector("erp"), connector("shop"))
    assert (report.created, report.waiting) == (2, 0)  # the shop names the group: nothing to wait for
    assert report.failed == 1 and report.failures[0].field == "group"  # A3's group points nowhere
    assert w.by("shop", "product", "sku")["A1"]["category"] == "Werkzeuge"
    assert "A3" not in w.by("shop", "product", "sku")


def test_a_load_plans_a_record_whose_reference_is_missing_in_the_target_as_waiting(tmp_path: Path) -> None:
    w = ProductWorld(tmp_path)
    w.add("erp", "product_group", native_id="10", nr="10", bezeichnung="Werkzeuge")
    w.add("erp", "product", artnr="A1", bezeichnung="Hammer", warengruppe="10")

    def connector(name: str) -> MemoryConnector:
        return MemoryConnector(name, {"store": w.systems[name]}, w.config.entities_of(name))

    # the groups are linked in the ERP, but the CRM is down: their creates wait there
    w.systems["crm"].down = True
    w.engine.run_cycle(entities=["product_group"])
    w.systems["crm"].down = False
    report = run_initial_load(w.config, w.store, "product", connector("erp"), connector("crm"))
    assert (report.created, report.waiting) == (0, 1)
    [waiting] = read(w.store, outbox.waiting_outbox, "product")
    assert waiting.last_error is not None and "'Werkzeuge'" in waiting.last_error
    with w.store.engine.connect() as conn:  # what `einklang status` shows
        assert [x["golden_id"] for x in reports.waiting_writes(conn)] == [waiting.golden_id]
        crm = next(s for s in reports.entity_status(conn, "product", ["erp", "crm"])["systems"] if s["system"] == "crm")
        assert crm["waiting_for_reference"] == 1
    assert "A1" not in w.by("crm", "product", "sku")
    # the next sync creates the group first, and then the product with the right group
    w.sync()
    crm_group = w.by("crm", "product_group", "code")["10"]["_id"]
    assert w.by("crm", "product", "sku")["A1"]["group_id"] == crm_group
    assert read(w.store, outbox.waiting_outbox, "product") == []


def test_a_system_added_later_is_matched_fuzzily_after_the_keys(tmp_path: Path) -> None:
    """The same company typed into the added system by hand, without the customer number: linked
    by the matcher (or held for a person when not sure), never created a second time."""
    w = World(tmp_path)
    w.add("erp", number="K1", name="Hafenmeister Logistik GmbH", city="Rostock", phone="+49 381 1234567",
          email="info@hafenmeister.de")  # fmt: skip
    w.add("erp", number="K2", name="Beta Bau", city="Bonn")
    w.settle()
    _book_added(w)
    w.config = parse_config(
        config_text(w.names).replace("    keys: [number]\n", "    keys: [number]\n    match: {spec: company}\n")
    )
    w.engine = w.new_engine()
    w.add("shop", name="Hafenmeister Logistik", city="Rostock", phone="0381 1234567", email="info@hafenmeister.de")
    report = run_initial_load(w.config, w.store, "customer", _connector(w, "crm"), _connector(w, "shop"))
    assert report.created == 1  # K2 only
    assert report.linked + len([s for s in report.skips if "decide in a review" in s.reason]) == 1
    assert len(w.rows("shop")) == 2  # the hand-typed company was not doubled
    if report.linked:
        linked = [e for e in read(w.store, journal.audit_log, entity="customer", limit=100) if e.op == "link"]
        assert any("added later" in e.cause and "duplicate" in e.cause for e in linked)

"""The first sync after a system was added to an entity fills it (issue 12, item 6).

An administrator added an address book to the customers of a running installation and ran
`einklang sync`: it must fill the book (link what it holds by key, create the rest), and the
sync after that must be quiet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from einklang.config import parse_config
from einklang.connectors.base import NativeRecord
from einklang.store import reports
from einklang.sync.engine import SyncEngine
from einklang.testing.memory import MemorySystem

from .harness import World, config_text


def _book_added(w: World) -> None:
    w.names = ["erp", "crm", "shop"]
    w.config = parse_config(config_text(w.names))
    w.systems["shop"] = MemorySystem("shop")
    w.engine = w.new_engine()


def _not_loaded(w: World) -> list[bool]:
    with w.store.engine.connect() as conn:
        return [s["not_loaded"] for s in reports.entity_status(conn, "customer", w.names)["systems"]]


def test_the_first_sync_after_a_system_was_added_fills_it_and_the_second_is_quiet(tmp_path: Path) -> None:
    w = World(tmp_path)
    for number in range(1, 18):
        w.add("erp", number=f"K{number}", name=f"Firma {number}", city="Berlin")
    w.settle()
    _book_added(w)
    assert _not_loaded(w) == [False, False, True]
    first = w.sync()
    [entity] = first.entities
    assert (entity.created, entity.failed) == (17, 0)
    assert entity.filled == ["shop: added to customer later; filled from erp: 17 created, 0 linked by key"]
    assert set(w.by_number("shop")) == {f"K{n}" for n in range(1, 18)}
    assert _not_loaded(w) == [False, False, False]
    second = w.sync()
    assert not second.busy and second.entities[0].filled == []
    assert len(w.rows("shop")) == 17
    erp_id = next(nid for nid, row in w.rows("erp").items() if row["number"] == "K3")
    w.edit("erp", erp_id, city="Hamburg")
    w.settle()
    assert w.by_number("shop")["K3"]["city"] == "Hamburg"  # the new system is in the sync from now on


def test_the_fill_links_what_the_new_system_holds_and_its_own_records_reach_the_others(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", number="K1", name="Alpha", city="Berlin")
    w.add("erp", number="K2", name="Beta", city="Bonn")
    w.settle()
    _book_added(w)
    w.add("shop", number="K1", name="Alpha", city="Köln")  # entered there by hand before
    w.add("shop", number="K9", name="Omega", city="Kiel")  # only the new system has it
    report = w.sync()
    assert report.entities[0].filled == ["shop: added to customer later; filled from erp: 1 created, 1 linked by key"]
    w.settle()
    assert sorted(w.by_number("shop")) == ["K1", "K2", "K9"]
    assert w.by_number("shop")["K1"]["city"] == "Berlin"  # the agreed value, planned as an update
    assert sorted(w.by_number("erp")) == ["K1", "K2", "K9"]  # the book's own record reached the ERP
    assert not w.sync().busy


def test_a_dry_run_says_what_the_fill_would_do_and_does_nothing(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", number="K1", name="Alpha", city="Berlin")
    w.settle()
    _book_added(w)
    report = w.sync(dry_run=True)
    assert report.entities[0].filled == [
        "shop: added to customer later; would fill from erp: 1 created, 0 linked by key"
    ]
    assert w.rows("shop") == {}
    assert _not_loaded(w) == [False, False, True]


def test_a_fill_that_dies_after_sending_is_finished_by_the_next_sync_without_a_second_create(tmp_path: Path) -> None:
    w = World(tmp_path)
    for number in range(1, 6):
        w.add("erp", number=f"K{number}", name=f"Firma {number}", city="Berlin")
    w.settle()
    _book_added(w)
    connectors = w.connectors()
    create = connectors["shop"].create

    def create_then_die(entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        create(entity, records)
        raise KeyboardInterrupt("killed after the address book created the records, before they were linked")

    connectors["shop"].create = create_then_die  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        SyncEngine(w.config, w.store, connectors).run_cycle()
    assert len(w.rows("shop")) == 5
    assert _not_loaded(w) == [False, False, True]  # the fill did not finish: the next sync resumes it
    w.settle()
    assert sorted(w.by_number("shop")) == [f"K{n}" for n in range(1, 6)]
    assert len(w.rows("shop")) == 5  # found by correlation id and linked, never created twice
    assert _not_loaded(w) == [False, False, False]


def test_a_system_that_receives_no_new_records_is_not_filled(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("erp", number="K1", name="Alpha", city="Berlin")
    w.settle()
    w.names = ["erp", "crm", "shop"]
    w.config = parse_config(config_text(w.names, sync="create_in: [crm]"))
    w.systems["shop"] = MemorySystem("shop")
    w.engine = w.new_engine()
    assert w.sync().entities[0].filled == []
    assert w.rows("shop") == {}

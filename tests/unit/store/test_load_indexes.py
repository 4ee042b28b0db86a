"""Overview indexes an initial load into an empty store builds after its rows, and their repair."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from einklang.config import load_config
from einklang.demo import scenario
from einklang.store import links
from einklang.store.load_indexes import (
    BUILT_AFTER_LOAD,
    ensure_indexes,
    indexes_built_after,
    missing_indexes,
)
from einklang.store.state import StateStore, open_store
from einklang.sync import initial_load
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector

NAMES = {"ix_golden_entity_status", "ix_links_entity_system_native"}


def _missing(store: StateStore) -> set[str]:
    with store.read() as conn:
        return {str(index.name) for index in missing_indexes(conn)}


def test_the_deferred_indexes_are_the_two_overview_indexes() -> None:
    assert {index.name for index in BUILT_AFTER_LOAD} == NAMES


def test_an_empty_store_loads_without_them_and_has_them_after(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    assert _missing(store) == set()
    with indexes_built_after(store) as dropped:
        assert dropped and _missing(store) == NAMES
    assert _missing(store) == set()


def test_they_are_built_after_a_load_that_failed(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with pytest.raises(KeyboardInterrupt), indexes_built_after(store):
        raise KeyboardInterrupt
    assert _missing(store) == set()


def test_a_store_holding_records_keeps_them_during_a_load(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with store.transaction() as conn:
        links.insert_golden(conn, "company", [{"name": "Alpha"}])
    with indexes_built_after(store) as dropped:
        assert not dropped and _missing(store) == set()


def test_opening_the_store_builds_what_a_killed_load_left_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = open_store(url)
    with store.transaction() as conn:  # what a load killed (SIGKILL) before its end leaves
        for index in BUILT_AFTER_LOAD:
            conn.execute(sa.schema.DropIndex(index))
        links.insert_golden(conn, "company", [{"name": "Alpha"}])
    store.close()
    assert _missing(StateStore(url)) == NAMES  # opened without migration: left as it is
    reopened = open_store(url)
    assert _missing(reopened) == set()
    assert ensure_indexes(reopened) == []  # nothing more to do


def test_ensure_indexes_names_what_it_built(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with store.transaction() as conn:
        conn.execute(sa.schema.DropIndex(BUILT_AFTER_LOAD[0]))
    assert ensure_indexes(store) == [BUILT_AFTER_LOAD[0].name]
    assert _missing(store) == set()


def test_an_initial_load_ends_with_every_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(scenario.build(tmp_path, customer_count=30))
    store = open_store(config.state_url)
    seen_during: list[set[str]] = []
    original = initial_load.InitialLoad._load_page

    def load_page(self: initial_load.InitialLoad, *args: object) -> None:
        seen_during.append(_missing(store))
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(initial_load.InitialLoad, "_load_page", load_page)
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        report = run_initial_load(config, store, "company", erp, crm, batch_size=10)
    assert report.created == 30
    assert seen_during == [NAMES] * 3
    assert _missing(store) == set()

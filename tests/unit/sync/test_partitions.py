"""Partitions of an entity's golden records (sync/partitions.py) and the engine's scope: a cycle
given some partitions merges, decides and sends only those golden records; partition 0 also
captures and takes the records not linked yet."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from einklang.config import parse_config
from einklang.store.state import open_store
from einklang.sync.engine import SyncEngine
from einklang.sync.partitions import EVERYTHING, GoldenScope, partition_of
from einklang.systems import open_connector
from einklang.testing.memory import memory_system

CONFIG = """
systems:
  erp: {connector: memory}
  crm: {connector: memory}
entities:
  customer:
    keys: [number]
    fields: {number: str, name: str}
    systems:
      erp: {map: {number: nr, name: name}, changed: modified}
      crm: {map: {number: number, name: name}, changed: modified, correlation: einklang_id}
"""


def test_the_partition_of_a_golden_id_is_stable_and_spreads_the_ids() -> None:
    # CRC-32, not Python's hash(): every process (and every version) agrees
    assert partition_of("0190d0b2-6f1c-7a3e-9c1d-2b3e4f5a6b7c", 4) == partition_of(
        "0190d0b2-6f1c-7a3e-9c1d-2b3e4f5a6b7c", 4
    )
    assert partition_of("anything", 1) == 0
    counts = [0, 0, 0, 0]
    for i in range(4000):
        counts[partition_of(f"0190d0b2-6f1c-7a3e-9c1d-{i:012x}", 4)] += 1
    assert min(counts) > 800  # about 1000 each


@given(golden_id=st.text(min_size=1, max_size=40), count=st.integers(min_value=1, max_value=16))
def test_exactly_one_partition_owns_each_golden_record_and_partition_0_the_unlinked(golden_id: str, count: int) -> None:
    scopes = [GoldenScope(count, frozenset({k})) for k in range(count)]
    assert sum(scope.owns(golden_id) for scope in scopes) == 1
    assert [scope.owns(None) for scope in scopes] == [k == 0 for k in range(count)]
    assert [scope.captures for scope in scopes] == [k == 0 for k in range(count)]
    assert GoldenScope(count, frozenset(range(count))).owns(golden_id)


def test_a_scope_outside_its_partitions_is_refused() -> None:
    with pytest.raises(ValueError):
        GoldenScope(2, frozenset({2}))
    with pytest.raises(ValueError):
        GoldenScope(2, frozenset())


def test_a_cycle_works_only_on_the_golden_records_of_its_partitions(tmp_path: Path) -> None:
    loaded = parse_config(CONFIG)
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    erp, crm = memory_system("erp"), memory_system("crm")
    ids = [erp.insert("customer", {"nr": f"N{i}", "name": f"Kunde {i}"}, changed="modified") for i in range(24)]
    engine = SyncEngine(loaded, store, {name: open_connector(loaded, name) for name in ("erp", "crm")})

    # the second partition alone captures nothing: nothing is linked yet, nothing happens
    report = engine.run_cycle(scope=GoldenScope(2, frozenset({1})))
    assert report.entities[0].captured == 0 and crm.records("customer") == {}

    engine.run_cycle(scope=EVERYTHING)  # the initial creates
    assert len(crm.records("customer")) == 24
    with store.read() as conn:
        golden = dict(conn.exec_driver_sql("SELECT native_id, golden_id FROM links WHERE system = 'erp'").all())
    first = {nid for nid in ids if partition_of(golden[nid], 2) == 0}
    assert 0 < len(first) < 24

    for nid in ids:
        erp.edit("customer", nid, {"name": f"neu {nid}"}, changed="modified")
    engine.run_cycle(scope=GoldenScope(2, frozenset({0})))  # captures all, merges and sends its share
    arrived = {row["number"] for row in crm.records("customer").values() if row["name"].startswith("neu")}
    assert arrived == {f"N{ids.index(nid)}" for nid in first}
    with store.read() as conn:
        pending = conn.exec_driver_sql("SELECT count(*) FROM changes WHERE processed_at IS NULL").scalar_one()
    assert pending == 24 - len(first)  # the other partition's changes wait for its worker

    with store.transaction() as conn:  # read everything again (a cursor's overlap, here all of it)
        conn.exec_driver_sql("DELETE FROM cursors")
    engine.run_cycle(scope=GoldenScope(2, frozenset({0})))
    with store.read() as conn:  # what still waits for the other partition is not stored twice
        assert conn.exec_driver_sql("SELECT count(*) FROM changes WHERE processed_at IS NULL").scalar_one() == pending

    engine.run_cycle(scope=GoldenScope(2, frozenset({1})))
    assert all(row["name"].startswith("neu") for row in crm.records("customer").values())
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM changes WHERE processed_at IS NULL").scalar_one() == 0
        audit = conn.exec_driver_sql("SELECT golden_id, count(*) FROM audit WHERE op = 'update' GROUP BY golden_id")
        assert all(count == 1 for _, count in audit)  # each update applied once

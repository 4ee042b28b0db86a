"""Sync workers (sync/workers.py) in threads on one state store and shared memory systems: the
entities are spread over the workers, a stopped worker's entities are taken over, and every
record arrives once. The multi-process version with SIGKILL on PostgreSQL is
tests/integration/test_sync_workers.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from einklang.config import parse_config
from einklang.store import leases
from einklang.store.state import open_store
from einklang.sync.engine import SyncEngine
from einklang.sync.workers import LeaseKeeper, SyncWorker, WorkerOptions
from einklang.systems import open_connector
from einklang.testing.memory import memory_system

ENTITIES = ["customer", "supplier"]
CONFIG = """
systems:
  erp: {connector: memory}
  crm: {connector: memory}
entities:
""" + "".join(
    f"""  {entity}:
    keys: [number]
    fields: {{number: str, name: str}}
    systems:
      erp: {{map: {{number: nr, name: name}}, changed: modified}}
      crm: {{map: {{number: number, name: name}}, changed: modified, correlation: einklang_id}}
"""
    for entity in ENTITIES
)


class Running:
    def __init__(self, tmp_path: Path, name: str, lease: float = 1.0) -> None:
        self.loaded = parse_config(CONFIG)
        self.store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        self.connectors = {system: open_connector(self.loaded, system) for system in ("erp", "crm")}
        self.stop = threading.Event()
        engine = SyncEngine(self.loaded, self.store, self.connectors)
        options = WorkerOptions(every=0.05, lease_seconds=lease)
        self.worker = SyncWorker(
            self.store, engine, ENTITIES, options, should_stop=self.stop.is_set, worker_id=f"host:{name}:x"
        )
        self.thread = threading.Thread(target=self.worker.run, name=f"worker-{name}")
        self.thread.start()

    def entities(self) -> set[str]:
        return {lease.entity for lease in self.worker.keeper.held()}

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def _wait(condition: object, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


def test_two_workers_share_the_entities_and_one_takes_over_when_the_other_stops(tmp_path: Path) -> None:
    erp, crm = memory_system("erp"), memory_system("crm")
    for entity in ENTITIES:
        for i in range(5):
            erp.insert(entity, {"nr": f"N{i}", "name": f"{entity} {i}"}, changed="modified")
    with open_store(f"sqlite:///{tmp_path / 'state.db'}").transaction():
        pass  # the schema, before two threads race to create it
    first, second = Running(tmp_path, "1"), Running(tmp_path, "2")
    try:
        _wait(lambda: len(first.entities()) == 1 and len(second.entities()) == 1, "one entity each")
        assert first.entities() | second.entities() == set(ENTITIES)
        _wait(lambda: all(len(crm.records(entity)) == 5 for entity in ENTITIES), "every record in the CRM")

        first.finish()  # SIGTERM-like: releases its lease, the other takes it at its next balance
        _wait(lambda: second.entities() == set(ENTITIES), "the second worker holds both entities")
        for entity in ENTITIES:
            erp.insert(entity, {"nr": "N9", "name": "late"}, changed="modified")
        _wait(lambda: all(len(crm.records(entity)) == 6 for entity in ENTITIES), "the late records in the CRM")
    finally:
        first.stop.set()
        second.finish()
        first.finish()
    for entity in ENTITIES:
        numbers = sorted(row["number"] for row in crm.records(entity).values())
        assert numbers == sorted(f"N{i}" for i in (*range(5), 9)), entity  # each once
    with second.store.read() as conn:
        assert leases.live_leases(conn) == []
        assert all(worker.stopped_at is not None for worker in leases.list_workers(conn))


def test_a_lease_lost_mid_cycle_rolls_the_cycle_back_and_is_given_up(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    keeper = LeaseKeeper(store, ["customer"], WorkerOptions(every=1, lease_seconds=30), "host:1:x")
    keeper.start()
    try:
        keeper.balance()
        fence = keeper.fence("customer")
        assert fence is not None and fence.lease.token == 1
        leases.release(store.engine, fence.lease)  # as if it expired and another worker took it
        assert leases.acquire(store.engine, "entity:customer", "host:2:y", 30) is not None
        loaded = parse_config(CONFIG)
        memory_system("erp").insert("customer", {"nr": "N1", "name": "A"}, changed="modified")
        connectors = {system: open_connector(loaded, system) for system in ("erp", "crm")}
        worker = SyncWorker(
            store, SyncEngine(loaded, store, connectors), ["customer"], keeper.options, should_stop=lambda: True
        )
        worker.keeper = keeper
        worker._cycle("customer")
        assert not keeper.holds("customer") and keeper.stats.lost == ["customer"]
        assert memory_system("crm").records("customer") == {}  # nothing was sent under a lost lease
        with store.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM golden").scalar_one() == 0
    finally:
        keeper.stop()

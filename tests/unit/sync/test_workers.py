"""Sync workers (sync/workers.py) in threads on one state store and shared memory systems: the
entities are spread over the workers, a stopped worker's entities are taken over, and every
record arrives once. The multi-process version with SIGKILL on PostgreSQL is
tests/integration/test_sync_workers.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa

from einklang.config import parse_config
from einklang.store import leases
from einklang.store.state import open_store
from einklang.sync.engine import SyncEngine
from einklang.sync.workers import LeaseKeeper, SyncWorker, Unit, WorkerOptions, lost_a_race
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
    def __init__(
        self, tmp_path: Path, name: str, lease: float = 1.0, entities: list[str] = ENTITIES, partitions: int = 1
    ) -> None:
        self.loaded = parse_config(CONFIG)
        self.store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        self.connectors = {system: open_connector(self.loaded, system) for system in ("erp", "crm")}
        self.stop = threading.Event()
        engine = SyncEngine(self.loaded, self.store, self.connectors)
        options = WorkerOptions(every=0.05, lease_seconds=lease, partitions=partitions)
        self.worker = SyncWorker(
            self.store, engine, entities, options, should_stop=self.stop.is_set, worker_id=f"host:{name}:x"
        )
        self.thread = threading.Thread(target=self.worker.run, name=f"worker-{name}")
        self.thread.start()

    def entities(self) -> set[str]:
        return {lease.entity for lease in self.worker.keeper.held()}

    def partitions(self) -> set[str]:
        return {lease.part for lease in self.worker.keeper.held()}

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
        worker._cycle(Unit("customer"))
        assert not keeper.holds("customer") and keeper.stats.lost == ["customer"]
        assert memory_system("crm").records("customer") == {}  # nothing was sent under a lost lease
        with store.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM golden").scalar_one() == 0
    finally:
        keeper.stop()


def test_two_workers_share_the_partitions_of_one_entity_and_one_takes_over(tmp_path: Path) -> None:
    erp, crm = memory_system("erp"), memory_system("crm")
    ids = [erp.insert("customer", {"nr": f"N{i}", "name": f"Kunde {i}"}, changed="modified") for i in range(12)]
    with open_store(f"sqlite:///{tmp_path / 'state.db'}").transaction():
        pass
    first = Running(tmp_path, "1", entities=["customer"], partitions=2)
    second = Running(tmp_path, "2", entities=["customer"], partitions=2)
    try:
        _wait(lambda: len(first.partitions()) == 1 and len(second.partitions()) == 1, "one partition each")
        assert first.partitions() | second.partitions() == {"0/2", "1/2"}
        _wait(lambda: len(crm.records("customer")) == 12, "every record in the CRM")
        lease_query = "SELECT name, holder, token FROM worker_leases ORDER BY name"
        with first.store.read() as conn:
            leases_before = conn.exec_driver_sql(lease_query).all()
        for nid in ids:
            erp.edit("customer", nid, {"name": f"neu {nid}"}, changed="modified")
        _wait(
            lambda: all(row["name"].startswith("neu") for row in crm.records("customer").values()),
            "every edit in the CRM, merged and sent by both workers",
        )
        with first.store.read() as conn:
            leases_after = conn.exec_driver_sql(lease_query).all()
            sent_by = conn.exec_driver_sql("SELECT count(DISTINCT run_id) FROM audit WHERE op = 'update'")
        assert len({holder for _, holder, _ in leases_after}) == 2
        if leases_after == leases_before:
            # each partition stayed with its worker, so each worker merged and sent its own part; on
            # a loaded machine a lease can expire and move meanwhile, and one worker sends them all
            assert sent_by.scalar_one() >= 2

        first.finish()  # its partition is released and taken over by the other worker
        _wait(lambda: second.partitions() == {"0/2", "1/2"}, "the second worker holds both partitions")
        erp.insert("customer", {"nr": "N99", "name": "late"}, changed="modified")
        _wait(lambda: len(crm.records("customer")) == 13, "the late record in the CRM")
    finally:
        first.stop.set()
        second.finish()
        first.finish()
    numbers = sorted(row["number"] for row in crm.records("customer").values())
    assert numbers == sorted([*(f"N{i}" for i in range(12)), "N99"])  # each once
    with second.store.read() as conn:
        updates = conn.exec_driver_sql("SELECT golden_id, count(*) FROM audit WHERE op = 'update' GROUP BY golden_id")
        assert all(count == 1 for _, count in updates)  # no edit applied twice
        assert leases.live_leases(conn) == []


def test_a_stale_worker_that_lost_its_partition_writes_nothing(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    options = WorkerOptions(every=1, lease_seconds=30, partitions=2)
    keeper = LeaseKeeper(store, ["customer"], options, "host:1:x")
    keeper.start()
    try:
        keeper.balance()  # alone: both partitions
        capture = Unit("customer", 0, 2)
        fence = keeper.fence_of(capture)
        assert fence is not None
        assert [unit for unit, _ in keeper.fences("customer")] == [capture, Unit("customer", 1, 2)]
        leases.release(store.engine, fence.lease)  # as if it paused past its lease and another took it
        taken = leases.acquire(store.engine, capture.lease_name, "host:2:y", 30)
        assert taken is not None and taken.token == fence.lease.token + 1
        loaded = parse_config(CONFIG)
        memory_system("erp").insert("customer", {"nr": "N1", "name": "A"}, changed="modified")
        connectors = {system: open_connector(loaded, system) for system in ("erp", "crm")}
        worker = SyncWorker(
            store, SyncEngine(loaded, store, connectors), ["customer"], options, should_stop=lambda: True
        )
        worker.keeper = keeper
        worker._cycle(capture)
        assert keeper.fence_of(capture) is None and keeper.stats.lost == ["customer"]
        assert keeper.fence_of(Unit("customer", 1, 2)) is not None  # the other partition stays
        assert memory_system("crm").records("customer") == {}  # nothing was sent under a lost lease
        with store.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM changes").scalar_one() == 0  # nor captured
    finally:
        keeper.stop()


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def test_only_races_between_workers_are_retried() -> None:
    assert lost_a_race(sa.exc.IntegrityError("INSERT INTO links", {}, _DriverError("23505")))
    assert lost_a_race(sa.exc.OperationalError("SELECT", {}, _DriverError("40P01")))  # deadlock
    assert not lost_a_race(sa.exc.OperationalError("SELECT", {}, _DriverError("57P01")))  # server shut down

"""Worker leases and their fencing tokens (store/leases.py) on a SQLite store; the same SQL runs
on PostgreSQL in tests/integration/test_sync_workers.py with real processes."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from einklang.store import leases
from einklang.store import schema as t
from einklang.store.leases import Fence, LeaseLost
from einklang.store.lock import LockBusy, writer_lock
from einklang.store.state import StateStore, open_store, utcnow


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with store.transaction():
        pass  # migrations run on first use
    return store


def _expire(store: StateStore, name: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            t.worker_leases.update()
            .where(t.worker_leases.c.name == name)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )


def test_a_lease_is_held_by_one_worker_until_it_expires(store: StateStore) -> None:
    first = leases.acquire(store.engine, "entity:company", "a", 30)
    assert first is not None and first.token == 1
    assert leases.acquire(store.engine, "entity:company", "b", 30) is None
    again = leases.acquire(store.engine, "entity:company", "a", 30)
    assert again is not None and again.token == 1  # the holder keeps its token

    _expire(store, "entity:company")
    taken = leases.acquire(store.engine, "entity:company", "b", 30)
    assert taken is not None and taken.token == 2  # a new holder fences off the old one
    assert leases.renew(store.engine, first, 30) is None


def test_the_fence_refuses_a_transaction_of_a_worker_that_lost_its_lease(store: StateStore) -> None:
    lease = leases.acquire(store.engine, "entity:company", "a", 30)
    assert lease is not None
    with store.fenced(Fence(lease).check), store.transaction() as conn:
        conn.execute(t.cursors.insert().values(system="erp", entity="company", value="1", updated_at=utcnow()))

    _expire(store, "entity:company")  # a pause past the lease: nobody took it yet, still no writes
    with store.fenced(Fence(lease).check), pytest.raises(LeaseLost), store.transaction() as conn:
        conn.execute(t.cursors.update().values(value="2"))

    taken = leases.acquire(store.engine, "entity:company", "b", 30)
    assert taken is not None
    with store.fenced(Fence(lease).check), pytest.raises(LeaseLost, match="token 1"), store.transaction() as conn:
        conn.execute(t.cursors.update().values(value="3"))
    with store.read() as conn:
        assert conn.execute(sa.select(t.cursors.c.value)).scalar_one() == "1"


def test_the_fence_is_per_thread(store: StateStore) -> None:
    lease = leases.acquire(store.engine, "entity:company", "a", 30)
    assert lease is not None
    _expire(store, "entity:company")
    outcome: list[str] = []

    def other_thread() -> None:  # the web app's thread of `einklang serve` writes unfenced
        with store.transaction() as conn:
            conn.execute(t.cursors.insert().values(system="crm", entity="x", value="1", updated_at=utcnow()))
        outcome.append("written")

    with store.fenced(Fence(lease).check):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome == ["written"]


def test_workers_and_a_whole_store_writer_exclude_each_other(store: StateStore) -> None:
    lease = leases.acquire(store.engine, "entity:company", "a", 30)
    assert lease is not None
    with pytest.raises(LockBusy, match="1 sync worker\\(s\\) leasing company"), writer_lock(store, "load"):
        pass
    leases.release(store.engine, lease)
    with writer_lock(store, "load"):
        assert leases.acquire(store.engine, "entity:company", "a", 30) is None
    assert leases.acquire(store.engine, "entity:company", "a", 30) is not None


def test_released_leases_pass_on_with_a_new_token(store: StateStore) -> None:
    lease = leases.acquire(store.engine, "entity:contact", "a", 30)
    assert lease is not None
    leases.release(store.engine, lease)
    with store.read() as conn:
        assert leases.live_leases(conn) == []
    taken = leases.acquire(store.engine, "entity:contact", "b", 30)
    assert taken is not None and taken.token == 2


@pytest.mark.parametrize(("entities", "workers", "share"), [(3, 1, 3), (3, 2, 2), (3, 3, 1), (2, 5, 1), (1, 0, 1)])
def test_fair_share(entities: int, workers: int, share: int) -> None:
    assert leases.fair_share(entities, workers) == share


def test_workers_are_listed_with_their_leases_and_heartbeat(store: StateStore) -> None:
    leases.register_worker(store.engine, "host-a:101:x")
    leases.register_worker(store.engine, "host-b:202:y")
    leases.acquire(store.engine, "entity:company", "host-a:101:x", 30)
    leases.worker_heartbeat(store.engine, "host-a:101:x", ["company"], cycles=2)
    leases.stop_worker(store.engine, "host-b:202:y")
    time.sleep(0.01)
    assert leases.count_live_workers(store.engine, 30) == 1
    with store.read() as conn:
        workers = {worker.id: worker for worker in leases.list_workers(conn)}
    assert workers["host-a:101:x"].cycles == 2
    assert [lease.entity for lease in workers["host-a:101:x"].leases] == ["company"]
    assert workers["host-b:202:y"].stopped_at is not None and workers["host-b:202:y"].leases == ()


def test_partition_leases_are_named_and_shown_by_entity_and_partition(store: StateStore) -> None:
    name = leases.lease_name("company", 1, 4)
    assert name == "entity:company#1/4" and leases.lease_name("company") == "entity:company"
    lease = leases.acquire(store.engine, name, "a", 30)
    assert lease is not None
    assert (lease.entity, lease.partition, lease.part, lease.label) == ("company", (1, 4), "1/4", "company 1/4")
    whole = leases.acquire(store.engine, "entity:contact", "a", 30)
    assert whole is not None and (whole.entity, whole.partition, whole.part) == ("contact", None, "all")


def test_partitions_of_one_entity_go_to_different_workers(store: StateStore) -> None:
    first = leases.acquire(store.engine, leases.lease_name("company", 0, 2), "a", 30)
    second = leases.acquire(store.engine, leases.lease_name("company", 1, 2), "b", 30)
    assert first is not None and second is not None
    assert leases.acquire(store.engine, leases.lease_name("company", 1, 2), "a", 30) is None


def test_an_entity_is_never_cut_two_ways_at_once(store: StateStore) -> None:
    """Workers started with different --partitions would work on the same golden records."""
    whole = leases.acquire(store.engine, "entity:company", "a", 30)
    assert whole is not None
    assert leases.acquire(store.engine, leases.lease_name("company", 0, 2), "b", 30) is None
    assert leases.acquire(store.engine, leases.lease_name("company_x", 0, 2), "b", 30) is not None  # another entity
    _expire(store, "entity:company")  # the whole-entity worker died: the partitioned ones take over
    part = leases.acquire(store.engine, leases.lease_name("company", 0, 2), "b", 30)
    assert part is not None
    assert leases.acquire(store.engine, leases.lease_name("company", 1, 2), "c", 30) is not None
    assert leases.acquire(store.engine, leases.lease_name("company", 0, 3), "c", 30) is None  # another P
    assert leases.acquire(store.engine, "entity:company", "a", 30) is None


def test_a_stale_worker_cannot_write_for_a_partition_taken_over(store: StateStore) -> None:
    name = leases.lease_name("company", 1, 2)
    stale = leases.acquire(store.engine, name, "a", 30)
    assert stale is not None
    _expire(store, name)  # worker a paused past its lease
    taken = leases.acquire(store.engine, name, "b", 30)
    assert taken is not None and taken.token == stale.token + 1
    with store.fenced(Fence(stale).check), pytest.raises(LeaseLost), store.transaction() as conn:
        conn.execute(t.cursors.insert().values(system="erp", entity="company", value="1", updated_at=utcnow()))
    assert leases.renew(store.engine, stale, 30) is None
    with store.fenced(Fence(taken).check), store.transaction() as conn:  # the new holder writes
        conn.execute(t.cursors.insert().values(system="erp", entity="company", value="2", updated_at=utcnow()))
    with store.read() as conn:
        assert conn.execute(sa.select(t.cursors.c.value)).scalar_one() == "2"

"""One of several sync workers sharing a PostgreSQL state store (``einklang sync --every N --worker``).

Each worker holds leases on some **units** of work (:mod:`einklang.store.leases`) and runs the
ordinary sync cycle for those units only, every ``every`` seconds, each cycle behind the fence
of its lease. A unit is a whole entity, or with ``--partitions P`` one of P partitions of an
entity's golden records (:mod:`einklang.sync.partitions`): then several workers share one busy
entity. Workers spread the units among themselves: each takes at most its fair share (units /
live workers, rounded up) and gives back what exceeds it, so a worker started later gets work
within one balancing round, and the leases of a worker that died expire and are taken over
within the lease time. Nothing else changes: the engine, the outbox and the conditional writes
are the ones a single ``sync --every`` uses.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from einklang.store import leases
from einklang.store.leases import Fence, Lease, LeaseLost
from einklang.store.state import StateStore
from einklang.sync.engine import SyncEngine
from einklang.sync.partitions import GoldenScope
from einklang.sync.report import CycleReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    every: float  # seconds between two cycles of one entity
    lease_seconds: float = 30.0  # a dead worker's entities are taken over after at most this long
    partitions: int = 1  # leases per entity: 1 = whole entities; P = P partitions of its golden records

    @property
    def heartbeat_seconds(self) -> float:
        # three renewals per lease: two may fail (a busy database) before the lease is at risk
        return max(0.2, self.lease_seconds / 3)


@dataclass(frozen=True)
class Unit:
    """What one lease covers: an entity, or one partition of its golden records."""

    entity: str
    partition: int = 0
    partitions: int = 1

    @property
    def lease_name(self) -> str:
        return leases.lease_name(self.entity, self.partition, self.partitions)

    @property
    def scope(self) -> GoldenScope:
        return GoldenScope(self.partitions, frozenset({self.partition}))

    @classmethod
    def of(cls, lease: Lease) -> Unit:
        part = lease.partition
        return cls(lease.entity) if part is None else cls(lease.entity, part[0], part[1])


def units_of(entities: Sequence[str], partitions: int) -> list[Unit]:
    return [Unit(entity, k, partitions) for entity in entities for k in range(max(1, partitions))]


# a cycle that lost a race with another worker on the same record (one link inserted twice, a
# deadlock): it was rolled back like a crashed one and runs again (I6)
_RACES = {"23505", "40P01", "40001"}


def lost_a_race(exc: sa.exc.DBAPIError) -> bool:
    return isinstance(exc, sa.exc.IntegrityError) or getattr(exc.orig, "sqlstate", None) in _RACES


@dataclass
class WorkerStats:
    cycles: int = 0
    lost: list[str] = field(default_factory=list)  # leases lost to another worker, by entity


class LeaseKeeper:
    """The leases one worker process holds: registration, fair-share balancing, heartbeats.

    Used by :class:`SyncWorker` (``sync --every --worker``) and by the scheduler of
    ``einklang serve --worker``. ``start()`` registers the worker and starts the heartbeat thread;
    call ``balance()`` now and then (every ``options.heartbeat_seconds``); ``fences(entity)`` gives
    the units of the entity this worker holds with the check to run their transactions behind
    (none when other workers have them).
    """

    def __init__(
        self, store: StateStore, entities: Sequence[str], options: WorkerOptions, worker_id: str | None = None
    ) -> None:
        self.store = store
        self.entities = list(entities)
        self.units = units_of(self.entities, options.partitions)
        self.options = options
        self.worker_id = worker_id or leases.new_worker_id()
        self.stats = WorkerStats()
        self._held: dict[str, Lease] = {}
        self._held_lock = threading.Lock()
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._next_balance = 0.0

    def start(self) -> None:
        leases.register_worker(self.store.engine, self.worker_id)
        self._beat = threading.Thread(target=self._heartbeat, name="einklang-worker-heartbeat", daemon=True)
        self._beat.start()

    def stop(self) -> None:
        """Stop the heartbeat, give every lease back, mark the worker stopped."""
        self._beat_stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        for lease in self.held():
            leases.release(self.store.engine, lease)
        leases.stop_worker(self.store.engine, self.worker_id)

    def held(self) -> list[Lease]:
        with self._held_lock:
            return list(self._held.values())

    def holds(self, entity: str) -> bool:
        """Does this worker hold the entity, or a partition of it?"""
        return any(lease.entity == entity for lease in self.held())

    def fence(self, entity: str) -> Fence | None:
        """The fence of a whole-entity lease (``partitions`` 1)."""
        return self.fence_of(Unit(entity))

    def fence_of(self, unit: Unit) -> Fence | None:
        with self._held_lock:
            lease = self._held.get(unit.lease_name)
        return Fence(lease) if lease is not None else None

    def fences(self, entity: str) -> list[tuple[Unit, Fence]]:
        """The units of ``entity`` this worker holds, each with its fence, partition 0 (capture) first."""
        held = [(Unit.of(lease), Fence(lease)) for lease in self.held() if lease.entity == entity]
        return sorted(held, key=lambda pair: pair[0].partition)

    def balance_if_due(self) -> None:
        if time.monotonic() >= self._next_balance:
            self.balance()
            self._next_balance = time.monotonic() + self.options.heartbeat_seconds

    def balance(self) -> None:
        """Hold the fair share of leases: give back extras, take free or expired ones."""
        db = self.store.engine
        live = leases.count_live_workers(db, self.options.lease_seconds)
        share = leases.fair_share(len(self.units), live)
        held = self.held()
        for extra in held[share:]:
            leases.release(db, extra)
            self.drop(extra, lost=False)
        held_names = {lease.name for lease in held}
        wanted = [unit for unit in self.units if unit.lease_name not in held_names]
        random.shuffle(wanted)  # two workers starting together do not race for the same unit first
        for unit in wanted:
            if len(self.held()) >= share:
                break
            lease = leases.acquire(db, unit.lease_name, self.worker_id, self.options.lease_seconds)
            if lease is not None:
                with self._held_lock:
                    self._held[lease.name] = lease
                log.info("%s: leased (token %d)", lease.label, lease.token)

    def drop(self, lease: Lease, *, lost: bool = True) -> None:
        with self._held_lock:
            current = self._held.get(lease.name)
            if current is not None and current.token == lease.token:
                del self._held[lease.name]
                if lost:
                    self.stats.lost.append(lease.entity)

    def cycle_done(self) -> None:
        self.stats.cycles += 1
        leases.worker_heartbeat(self.store.engine, self.worker_id, self._entities_held(), cycles=1)

    def _heartbeat(self) -> None:
        db = self.store.engine
        while not self._beat_stop.wait(self.options.heartbeat_seconds):
            try:
                for lease in self.held():
                    renewed = leases.renew(db, lease, self.options.lease_seconds)
                    if renewed is None:
                        self.drop(lease)
                    else:
                        with self._held_lock:
                            if lease.name in self._held:
                                self._held[lease.name] = renewed
                leases.worker_heartbeat(db, self.worker_id, self._entities_held())
            except Exception as exc:  # a busy or unreachable store: the next beat tries again
                log.warning("worker heartbeat failed: %s", exc)

    def _entities_held(self) -> list[str]:
        return [lease.label for lease in self.held()]


class SyncWorker:
    def __init__(
        self,
        store: StateStore,
        engine: SyncEngine,
        entities: Sequence[str],
        options: WorkerOptions,
        *,
        should_stop: Callable[[], bool],
        on_cycle: Callable[[str, CycleReport], None] | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.options = options
        self.should_stop = should_stop
        self.on_cycle = on_cycle
        self.keeper = LeaseKeeper(store, entities, options, worker_id)
        self._last_cycle: dict[Unit, float] = {}

    @property
    def worker_id(self) -> str:
        return self.keeper.worker_id

    @property
    def stats(self) -> WorkerStats:
        return self.keeper.stats

    def run(self) -> WorkerStats:
        self.keeper.start()
        try:
            while not self.should_stop():
                self.keeper.balance_if_due()
                for entity in self._due():
                    if self.should_stop():
                        break
                    self._cycle(entity)
                time.sleep(0.05)
        finally:
            self.keeper.stop()
        return self.stats

    def _due(self) -> list[Unit]:
        now = time.monotonic()
        held = [Unit.of(lease) for lease in self.keeper.held()]
        return [
            unit
            for unit in sorted(held, key=lambda u: (self.keeper.entities.index(u.entity), u.partition))
            if now - self._last_cycle.get(unit, -1e9) >= self.options.every
        ]

    def _cycle(self, unit: Unit) -> None:
        fence = self.keeper.fence_of(unit)
        if fence is None:
            return
        self._last_cycle[unit] = time.monotonic()
        try:
            with self.store.fenced(fence.check):
                report = self.engine.run_cycle(entities=[unit.entity], scope=unit.scope)
        except LeaseLost as lost:
            log.warning("%s: %s; its cycle was rolled back and another worker continues", fence.lease.label, lost)
            self.keeper.drop(fence.lease)
            return
        except sa.exc.DBAPIError as exc:
            if unit.partitions == 1 or not lost_a_race(exc):
                raise  # whole entities never meet another worker's records: that is a bug, not a race
            log.warning("%s: cycle rolled back, another worker changed the same record: %s", fence.lease.label, exc)
            return
        self.keeper.cycle_done()
        if report.progressed:  # found work: run again at once rather than after the interval
            self._last_cycle[unit] = -1e9
        if self.on_cycle is not None:
            self.on_cycle(unit.entity, report)

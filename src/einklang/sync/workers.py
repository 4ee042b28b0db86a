"""One of several sync workers sharing a PostgreSQL state store (``einklang sync --every N --worker``).

Each worker holds leases on some of the configured entities (:mod:`einklang.store.leases`) and
runs the ordinary sync cycle for those entities only, every ``every`` seconds, each cycle behind
the fence of its lease. Workers spread the entities among themselves: each takes at most its
fair share (entities / live workers, rounded up) and gives back what exceeds it, so a worker
started later gets work within one balancing round, and the leases of a worker that died expire
and are taken over within the lease time. Nothing else changes: the engine, the outbox and the
conditional writes are the ones a single ``sync --every`` uses.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from einklang.store import leases
from einklang.store.leases import Fence, Lease, LeaseLost
from einklang.store.state import StateStore
from einklang.sync.engine import SyncEngine
from einklang.sync.report import CycleReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    every: float  # seconds between two cycles of one entity
    lease_seconds: float = 30.0  # a dead worker's entities are taken over after at most this long

    @property
    def heartbeat_seconds(self) -> float:
        # three renewals per lease: two may fail (a busy database) before the lease is at risk
        return max(0.2, self.lease_seconds / 3)


@dataclass
class WorkerStats:
    cycles: int = 0
    lost: list[str] = field(default_factory=list)  # leases lost to another worker, by entity


class LeaseKeeper:
    """The leases one worker process holds: registration, fair-share balancing, heartbeats.

    Used by :class:`SyncWorker` (``sync --every --worker``) and by the scheduler of
    ``einklang serve --worker``. ``start()`` registers the worker and starts the heartbeat thread;
    call ``balance()`` now and then (every ``options.heartbeat_seconds``); ``fence(entity)`` gives
    the check to run the entity's transactions behind, or None when another worker has it.
    """

    def __init__(
        self, store: StateStore, entities: Sequence[str], options: WorkerOptions, worker_id: str | None = None
    ) -> None:
        self.store = store
        self.entities = list(entities)
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
        with self._held_lock:
            return leases.lease_name(entity) in self._held

    def fence(self, entity: str) -> Fence | None:
        with self._held_lock:
            lease = self._held.get(leases.lease_name(entity))
        return Fence(lease) if lease is not None else None

    def balance_if_due(self) -> None:
        if time.monotonic() >= self._next_balance:
            self.balance()
            self._next_balance = time.monotonic() + self.options.heartbeat_seconds

    def balance(self) -> None:
        """Hold the fair share of entity leases: give back extras, take free or expired ones."""
        db = self.store.engine
        live = leases.count_live_workers(db, self.options.lease_seconds)
        share = leases.fair_share(len(self.entities), live)
        held = self.held()
        for extra in held[share:]:
            leases.release(db, extra)
            self.drop(extra, lost=False)
        wanted = [name for name in self.entities if leases.lease_name(name) not in {lease.name for lease in held}]
        random.shuffle(wanted)  # two workers starting together do not race for the same entity first
        for entity in wanted:
            if len(self.held()) >= share:
                break
            lease = leases.acquire(db, leases.lease_name(entity), self.worker_id, self.options.lease_seconds)
            if lease is not None:
                with self._held_lock:
                    self._held[lease.name] = lease
                log.info("%s: leased (token %d)", entity, lease.token)

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
        return [lease.entity for lease in self.held()]


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
        self._last_cycle: dict[str, float] = {}

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

    def _due(self) -> list[str]:
        now = time.monotonic()
        return [
            name
            for name in self.keeper.entities
            if self.keeper.holds(name) and now - self._last_cycle.get(name, -1e9) >= self.options.every
        ]

    def _cycle(self, entity: str) -> None:
        fence = self.keeper.fence(entity)
        if fence is None:
            return
        self._last_cycle[entity] = time.monotonic()
        try:
            with self.store.fenced(fence.check):
                report = self.engine.run_cycle(entities=[entity])
        except LeaseLost as lost:
            log.warning("%s: %s; its cycle was rolled back and another worker continues", entity, lost)
            self.keeper.drop(fence.lease)
            return
        self.keeper.cycle_done()
        if self.on_cycle is not None:
            self.on_cycle(entity, report)

"""Prometheus metrics of ``einklang serve``, in a registry of their own (tests stay isolated).

Two kinds: what the scheduler saw (cycle durations, changes read and applied, cycles by
outcome, notifications sent) is counted in memory as it happens; what waits in the state
store (open conflicts, outbox depth, reviews, breaker state) is read from the store at scrape
time by :class:`StoreCollector`, so it is true after a restart and includes what other
processes changed. The last-success timestamps combine both: the service's own cycles, and
after a restart the last ``ok`` sync run in the store. docs/operations.md lists every metric.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from einklang.store import leases
from einklang.store.gauges import breaker_state, last_sync_successes, read_gauges
from einklang.store.state import StateStore, utcnow

if TYPE_CHECKING:
    from einklang.config import LoadedConfig
    from einklang.service.notifier import Delivery
    from einklang.service.runtime import CycleOutcome

log = logging.getLogger("einklang.service.metrics")

BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}
# cycles take milliseconds when quiet and minutes for a large backlog
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


def _epoch(moment: dt.datetime) -> float:
    """A naive UTC time (as the store keeps them) as seconds since the epoch."""
    return moment.replace(tzinfo=dt.UTC).timestamp()


class ServiceMetrics:
    def __init__(self, config: LoadedConfig, store: StateStore) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cycle_seconds = Histogram(
            "einklang_cycle_duration_seconds",
            "Duration of one sync cycle of an entity.",
            ["entity"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.cycles = Counter(
            "einklang_cycles", "Sync cycles by outcome.", ["entity", "outcome"], registry=self.registry
        )
        self.changes_read = Counter(
            "einklang_changes_read", "Changes read from the systems.", ["entity"], registry=self.registry
        )
        self.changes_applied = Counter(
            "einklang_changes_applied",
            "Writes applied to the systems (updates, creates, deletions).",
            ["entity"],
            registry=self.registry,
        )
        self.notifications_sent = Counter(
            "einklang_notifications_sent", "Digests delivered.", ["channel"], registry=self.registry
        )
        self.notifications_failed = Counter(
            "einklang_notification_failures",
            "Digests that could not be delivered (retried).",
            ["channel"],
            registry=self.registry,
        )
        self.collector = StoreCollector(config, store)
        self.registry.register(self.collector)

    def observe(self, outcome: CycleOutcome) -> None:
        """A scheduler listener: count one cycle."""
        entity = outcome.entity
        self.cycles.labels(entity, outcome.schedule.last_outcome or "unknown").inc()
        report = outcome.report
        if report is None:
            return
        self.cycle_seconds.labels(entity).observe(outcome.seconds)
        self.changes_read.labels(entity).inc(report.captured)
        self.changes_applied.labels(entity).inc(report.applied + report.created + report.deleted)
        if outcome.schedule.last_outcome != "error" and outcome.schedule.last_finished is not None:
            reached = [system for system in outcome.systems if system not in report.unavailable]
            self.collector.succeeded(entity, reached, outcome.schedule.last_finished)

    def count_delivery(self, delivery: Delivery) -> None:
        """A notifier listener: count one digest, delivered or failed."""
        counter = self.notifications_failed if delivery.error else self.notifications_sent
        counter.labels(delivery.channel).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Gauges read from the state store when Prometheus scrapes."""

    def __init__(self, config: LoadedConfig, store: StateStore) -> None:
        self.store = store
        self.entities = list(config.model.entities)
        self.systems = list(config.model.systems)
        self.systems_of = {entity: config.systems_of(entity) for entity in self.entities}
        self._lock = threading.Lock()
        self._entity_success: dict[str, dt.datetime] = {}
        self._system_success: dict[str, dt.datetime] = {}
        self._loaded_history = False

    def succeeded(self, entity: str, systems: list[str], when: dt.datetime) -> None:
        with self._lock:
            self._entity_success[entity] = when
            for system in systems:
                self._system_success[system] = when

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on the store; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("einklang_state_store_up", "1 if the state store answered this scrape.")
        try:
            families = self._families()
        except Exception as exc:  # a scrape must answer even when the store does not
            log.warning("metrics: the state store could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> list[Metric]:
        with self.store.read() as conn:
            gauges = read_gauges(conn)
            workers = leases.list_workers(conn, recent_seconds=900)
            if not self._loaded_history:
                by_entity, by_system = last_sync_successes(conn, self.systems_of)
                with self._lock:
                    for entity, when in by_entity.items():
                        self._entity_success.setdefault(entity, when)
                    for system, when in by_system.items():
                        self._system_success.setdefault(system, when)
                    self._loaded_history = True
        now = utcnow()
        conflicts = GaugeMetricFamily("einklang_conflicts_open", "Open conflicts.", labels=["entity"])
        reviews = GaugeMetricFamily(
            "einklang_reviews_waiting", "Possible duplicates of imports waiting for a decision.", labels=["entity"]
        )
        for entity in self.entities:
            conflicts.add_metric([entity], gauges.open_conflicts.get(entity, 0))
            reviews.add_metric([entity], gauges.reviews_waiting.get(entity, 0))
        outbox = GaugeMetricFamily(
            "einklang_outbox_entries",
            "Writes waiting (pending) or failed for good (failed: isolated records) per system.",
            labels=["system", "status"],
        )
        breaker = GaugeMetricFamily(
            "einklang_breaker_state", "Circuit breaker per system: 0 closed, 1 half-open, 2 open.", labels=["system"]
        )
        for system in self.systems:
            for status in ("pending", "failed"):
                outbox.add_metric([system, status], gauges.outbox.get((system, status), 0))
            breaker.add_metric([system], BREAKER_VALUES[breaker_state(gauges.health.get(system), now)])
        entity_success = GaugeMetricFamily(
            "einklang_entity_last_success_timestamp_seconds",
            "End of the last sync cycle of the entity that did not fail (Unix time).",
            labels=["entity"],
        )
        system_success = GaugeMetricFamily(
            "einklang_system_last_success_timestamp_seconds",
            "End of the last sync cycle in which the system was reached (Unix time).",
            labels=["system"],
        )
        with self._lock:
            for entity, when in self._entity_success.items():
                entity_success.add_metric([entity], _epoch(when))
            for system, when in self._system_success.items():
                system_success.add_metric([system], _epoch(when))
        return [conflicts, reviews, outbox, breaker, entity_success, system_success, *_worker_families(workers, now)]


def _worker_families(workers: list[leases.WorkerRow], now: dt.datetime) -> list[Metric]:
    """Sync workers sharing the store (``--worker``, docs/sync-workers.md): seen in the last 15 min."""
    heartbeat = GaugeMetricFamily(
        "einklang_worker_heartbeat_age_seconds",
        "Seconds since each sync worker's last heartbeat (stopped workers are left out).",
        labels=["worker"],
    )
    lease = GaugeMetricFamily(
        "einklang_worker_lease_token",
        "Entities (partition all) or partitions of their golden records (1/4) leased by each sync "
        "worker, valued by the lease's fencing token.",
        labels=["worker", "entity", "partition"],
    )
    for worker in workers:
        if worker.stopped_at is not None:
            continue
        heartbeat.add_metric([worker.id], (now - worker.heartbeat_at).total_seconds())
        for held in worker.leases:
            lease.add_metric([worker.id, held.entity, held.part], held.token)
    return [heartbeat, lease]

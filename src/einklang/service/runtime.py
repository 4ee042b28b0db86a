"""The sync scheduler of ``einklang serve``, and the object the web app asks about it.

A background thread runs each entity's cycle when it is due (``sync.interval`` seconds after
its last start, sooner when the last cycle found work or someone asked for one). Each cycle is
:meth:`SyncEngine.run_cycle` for that one entity, run under the writer lock
(:func:`einklang.store.lock.writer_lock`) that every writing command holds, so ``serve``,
``sync`` and ``import`` never write at the same time. The lock is taken per round of due
cycles and released between them: a command started meanwhile (an import, an undo) gets its
turn, and while it writes, the due cycles wait and say so instead of failing.

:meth:`ServiceRuntime.stop` lets the running cycle finish (its run row ends ``ok``) and starts
no other. Times shown are naive UTC, as in the state store.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from einklang.masking import mask
from einklang.store.lock import HEARTBEAT_SECONDS, LockBusy, writer_lock
from einklang.store.state import StateStore, utcnow
from einklang.sync.partitions import EVERYTHING, GoldenScope

if TYPE_CHECKING:
    from einklang.config import LoadedConfig
    from einklang.connectors.base import Connector
    from einklang.sync.engine import EngineOptions, EntityReport, SyncEngine
    from einklang.sync.workers import LeaseKeeper

log = logging.getLogger("einklang.service.scheduler")

LOCK_PURPOSE = "serve"


@dataclass(frozen=True)
class EntitySchedule:
    """Where one entity's cycles stand, for the overview page and the JSON API."""

    entity: str
    interval: float  # seconds between cycles (``sync.interval``)
    running: bool  # a cycle of this entity runs now
    last_started: dt.datetime | None = None
    last_finished: dt.datetime | None = None
    # ok | attention (a person must act: held back, isolated records) | unavailable (a system
    # could not be reached; its writes wait) | waiting (another einklang process holds the
    # writer lock) | elsewhere (serve --worker: another worker leases the entity) | error (the
    # cycle raised; see the log)
    last_outcome: str | None = None
    last_message: str = ""  # one line for people
    last_run_id: int | None = None  # the run row of the last cycle that did work
    last_success: dt.datetime | None = None  # end of the last cycle that was not an error
    next_due: dt.datetime | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # system -> reason, in the last cycle


@dataclass(frozen=True)
class CycleOutcome:
    """What one scheduled cycle did, handed to the listeners (metrics)."""

    entity: str
    schedule: EntitySchedule
    report: EntityReport | None  # None when the cycle did not run (lock busy) or raised
    seconds: float
    systems: tuple[str, ...]  # the entity's systems


CycleListener = Callable[[CycleOutcome], None]


class ServiceRuntime:
    """The scheduler thread; ``status()``, ``trigger()`` and ``stop()`` are safe from any thread."""

    def __init__(
        self,
        config: LoadedConfig,
        store: StateStore,
        *,
        engine_options: EngineOptions | None = None,
        listeners: Iterable[CycleListener] = (),
        busy_again_after: float = 1.0,
        lock_retry_after: float = 5.0,
        lock_heartbeat: float = HEARTBEAT_SECONDS,
        leases: LeaseKeeper | None = None,
    ) -> None:
        """``busy_again_after``: seconds until an entity whose cycle found work runs again (at most
        its interval); ``lock_retry_after``: seconds between tries while another process writes;
        ``leases``: run as one of several sync workers (``serve --worker``, docs/sync-workers.md):
        only the entities this process leases are synced, each behind its lease's fence, instead
        of under the writer lock."""
        self.config = config
        self.store = store
        self._engine_options = engine_options
        self._listeners = list(listeners)
        self._busy_again_after = busy_again_after
        self._lock_retry_after = lock_retry_after
        self._lock_heartbeat = lock_heartbeat
        self._guard = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        now = time.monotonic()
        self._due: dict[str, float] = {}
        self._schedules: dict[str, EntitySchedule] = {}
        for name, entity in config.model.entities.items():
            self._due[name] = now
            self._schedules[name] = EntitySchedule(name, entity.sync.interval, False, next_due=utcnow())
        self._systems = {name: tuple(config.systems_of(name)) for name in config.model.entities}
        self._engine: SyncEngine | None = None
        self._connectors: dict[str, Connector] = {}
        self._exit_stack = ExitStack()
        self._leases = leases

    # ------------------------------------------------------------------ what the web app uses
    def status(self) -> list[EntitySchedule]:
        """Each entity's schedule, in the config's order."""
        with self._guard:
            return list(self._schedules.values())

    def trigger(self, entity: str | None = None) -> bool:
        """Ask for a cycle of ``entity`` (every entity if None) as soon as possible.

        False if the entity is unknown. The cycle runs after the one running now, if any.
        """
        with self._guard:
            if entity is not None and entity not in self._due:
                return False
            now = time.monotonic()
            for name in [entity] if entity is not None else list(self._due):
                self._due[name] = now
                self._schedules[name] = replace(self._schedules[name], next_due=utcnow())
            self._guard.notify_all()
        return True

    def connector(self, system: str) -> Connector | None:
        """The open connector of ``system`` (None before ``start``): webhook deliveries go to it."""
        return self._connectors.get(system)

    def stop(self, timeout: float | None = None) -> None:
        """Finish the running cycle, start no other, close the connectors."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._leases is not None:
            self._leases.stop()  # gives the leases back: another worker takes over at once
        self._exit_stack.close()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        from einklang.systems import open_connector

        if self._thread is not None:
            raise RuntimeError("the scheduler runs already")
        # open_connector connects to nothing: a system that is down shows in the cycles, not here
        self._connectors = {
            name: self._exit_stack.enter_context(open_connector(self.config, name))
            for name in self.config.model.systems
        }
        if self._leases is not None:
            self._leases.start()
        self._thread = threading.Thread(target=self._run, name="einklang-scheduler", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Start no further cycle (does not wait; :meth:`stop` does)."""
        with self._guard:
            self._stopping = True
            self._guard.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def healthy(self) -> bool:
        """False only when the scheduler was started and has died without being asked to stop."""
        return self._thread is None or self._thread.is_alive() or self._stopping

    def _run(self) -> None:
        while True:
            if self._leases is not None:
                self._balance_leases()
            with self._guard:
                if self._stopping:
                    return
                now = time.monotonic()
                due = [name for name, at in self._due.items() if at <= now]
                if not due:
                    wait = max(0.0, min(self._due.values(), default=now + 60) - now)
                    if self._leases is not None:  # keep balancing while idle
                        wait = min(wait, self._leases.options.heartbeat_seconds)
                    self._guard.wait(timeout=wait)
                    continue
            self._run_due(due)

    def _balance_leases(self) -> None:
        assert self._leases is not None
        try:
            self._leases.balance_if_due()
        except Exception:  # the store is unreachable: keep the leases held, try again next round
            log.exception("sync worker: the leases could not be balanced")

    def _run_due(self, due: list[str]) -> None:
        if self._leases is not None:
            self._run_leased(due)
            return
        try:
            with writer_lock(self.store, LOCK_PURPOSE, heartbeat_every=self._lock_heartbeat):
                for entity in due:
                    if self._stopping:
                        return
                    self._run_entity(entity)
        except LockBusy as busy:
            self._lock_busy(due, busy)
        except Exception:  # the store itself failed (a PostgreSQL restart): say so, try again later
            log.exception("the writer lock could not be taken; cycles wait", extra={"entity": ", ".join(due)})
            self._postpone(due, self._lock_retry_after, "error", "the state store could not be written; see the log")

    def _run_leased(self, due: list[str]) -> None:
        """Worker mode: each due entity this process leases runs behind its fence; the others are
        another worker's and are only looked at again after their interval."""
        from einklang.store.leases import LeaseLost

        assert self._leases is not None
        for entity in due:
            if self._stopping:
                return
            held = self._leases.fences(entity)  # the entity, or the partitions of it this worker leases
            if not held:
                self._postpone([entity], self._schedules[entity].interval, "elsewhere", "synced by another worker")
                continue
            for unit, fence in held:
                try:
                    with self.store.fenced(fence.check):
                        self._run_entity(entity, reraise=(LeaseLost,), scope=unit.scope)
                    self._leases.cycle_done()
                except LeaseLost as lost:
                    self._leases.drop(fence.lease)
                    log.warning("%s: %s; another worker continues", fence.lease.label, lost, extra={"entity": entity})
                    self._postpone([entity], self._schedules[entity].interval, "elsewhere", "synced by another worker")

    def _lock_busy(self, due: list[str], busy: LockBusy) -> None:
        message = mask(f"waiting: {busy}")
        if any(self._schedules[entity].last_outcome != "waiting" for entity in due):
            log.warning("%s", message, extra={"entity": ", ".join(due)})
        self._postpone(due, self._lock_retry_after, "waiting", message)
        for entity in due:
            self._notify(CycleOutcome(entity, self._schedules[entity], None, 0.0, self._systems[entity]))

    def _postpone(self, entities: list[str], seconds: float, outcome: str, message: str) -> None:
        with self._guard:
            for entity in entities:
                self._due[entity] = time.monotonic() + seconds
                self._schedules[entity] = replace(
                    self._schedules[entity],
                    last_outcome=outcome,
                    last_message=message,
                    next_due=utcnow() + dt.timedelta(seconds=seconds),
                )

    def _run_entity(
        self, entity: str, reraise: tuple[type[Exception], ...] = (), scope: GoldenScope = EVERYTHING
    ) -> None:
        started_at, started = utcnow(), time.monotonic()
        with self._guard:
            self._schedules[entity] = replace(self._schedules[entity], running=True, last_started=started_at)
        report: EntityReport | None = None
        run_id: int | None = None
        try:
            cycle = self._sync_engine().run_cycle(entities=[entity], scope=scope)
            report, run_id = cycle.entities[0], cycle.run_id
            outcome, message = _judge(report)
            _log_cycle(entity, report, run_id, outcome, message)
        except reraise:
            with self._guard:
                self._schedules[entity] = replace(self._schedules[entity], running=False)
            raise
        except Exception as exc:
            log.exception("cycle of %s failed", entity, extra={"entity": entity})
            outcome, message = "error", mask(f"{type(exc).__name__}: {exc}")
        seconds = time.monotonic() - started
        interval = self._schedules[entity].interval
        wait = min(self._busy_again_after, interval) if report is not None and report.busy else interval
        finished = utcnow()
        with self._guard:
            previous = self._schedules[entity]
            next_run = started + wait
            triggered_meanwhile = self._due[entity] > started  # trigger() during the cycle: run again at once
            self._due[entity] = min(self._due[entity], next_run) if triggered_meanwhile else next_run
            schedule = replace(
                previous,
                running=False,
                last_finished=finished,
                last_outcome=outcome,
                last_message=message,
                last_run_id=run_id if run_id is not None else previous.last_run_id,
                last_success=finished if outcome != "error" else previous.last_success,
                next_due=finished + dt.timedelta(seconds=max(0.0, self._due[entity] - time.monotonic())),
                unavailable=dict(report.unavailable) if report is not None else {},
            )
            self._schedules[entity] = schedule
        self._notify(CycleOutcome(entity, schedule, report, seconds, self._systems[entity]))

    def _sync_engine(self) -> SyncEngine:
        if self._engine is None:
            from einklang.sync.engine import SyncEngine

            self._engine = SyncEngine(self.config, self.store, self._connectors, options=self._engine_options)
        return self._engine

    def _notify(self, outcome: CycleOutcome) -> None:
        for listener in self._listeners:
            try:
                listener(outcome)
            except Exception:  # a listener (metrics) must never stop the scheduler
                log.exception("a cycle listener failed", extra={"entity": outcome.entity})


def _judge(report: EntityReport) -> tuple[str, str]:
    """The outcome of one entity's cycle and a line for people."""
    parts = []
    if report.captured:
        parts.append(f"read {report.captured} change(s)")
    written = report.applied + report.created + report.deleted
    if written:
        parts.append(f"wrote {written}")
    if report.conflicts:
        parts.append(f"{report.conflicts} new conflict(s)")
    if report.failed:
        parts.append(f"{report.failed} write(s) failed for good (isolated records)")
    parts.extend(report.held_back)
    parts.extend(f"{system} unavailable: {reason} (its writes wait)" for system, reason in report.unavailable.items())
    message = mask("; ".join(parts) or "nothing to do")
    if report.unavailable:
        return "unavailable", message
    if report.held_back or report.failed:
        return "attention", message
    return "ok", message


def _log_cycle(entity: str, report: EntityReport, run_id: int | None, outcome: str, message: str) -> None:
    extra = {"entity": entity, "run_id": run_id}
    for system, reason in report.unavailable.items():
        log.warning("%s unavailable: %s (its writes wait)", system, mask(reason), extra={**extra, "system": system})
    if outcome == "attention":
        log.warning("%s: %s", entity, message, extra=extra)
    elif report.busy:
        log.info("%s: %s", entity, message, extra=extra)
    else:
        log.debug("%s: %s", entity, message, extra=extra)

"""What the stages of one sync cycle share: systems, store, run, breakers and per-cycle caches.

A dry run is the same cycle run against :class:`RolledBackStore`: every stage writes as it
always does, into one transaction that is rolled back at the end, and nothing is sent. The
plan it shows is what that transaction held (:func:`einklang.sync.report.read_plan`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector
from einklang.context import EntityContext, entity_context
from einklang.model import CanonicalRecord
from einklang.store.state import StateStore
from einklang.sync.breaker import CircuitBreakers, RetrySettings
from einklang.sync.echoes import EchoMemo
from einklang.sync.partitions import EVERYTHING, GoldenScope
from einklang.sync.references import StoreReferences

FaultHook = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class EngineOptions:
    retry: RetrySettings = field(default_factory=RetrySettings)
    batch_size: int = 500
    replan_rounds: int = 3
    confirm_deletes: bool = False  # let this cycle exceed the delete guard
    keep_changes: dt.timedelta = dt.timedelta(days=7)  # processed captured changes are kept this long


@dataclass
class Observation:
    """A system's current state of a linked record, as captured."""

    change_ids: list[int]
    native_id: str
    version: str | None
    record: CanonicalRecord
    modified: dt.datetime | None


class RolledBackStore(StateStore):
    """The state store seen through one connection whose transaction is never committed."""

    def __init__(self, store: StateStore, conn: Connection) -> None:
        self.url = store.url
        self.engine = store.engine
        self._wal_autocheckpoint = store._wal_autocheckpoint
        self._conn = conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        yield self._conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        yield self._conn


@dataclass
class Cycle:
    config: LoadedConfig
    store: StateStore
    connectors: Mapping[str, Connector]
    options: EngineOptions
    breakers: CircuitBreakers
    fault: FaultHook
    dry_run: bool = False
    run_id: int | None = None
    # the golden records this cycle works on: a sync worker's leased partitions (sync/partitions.py)
    scope: GoldenScope = EVERYTHING
    # (entity, system) -> golden id -> base: golden records a new record there may be (fuzzy matching)
    fuzzy_candidates: dict[tuple[str, str], dict[str, CanonicalRecord]] = field(default_factory=dict)
    # (entity, system) -> (key field, value) -> golden ids with a pending create there
    pending_creates: dict[tuple[str, str], dict[tuple[str, str], set[str]]] = field(default_factory=dict)

    # native digest -> canonical hash of records seen as echoes before (kept by the engine)
    echo_memo: EchoMemo | None = None
    # reference lookups of this cycle (golden ids <-> native ids and values), made on first need
    references: StoreReferences | None = None
    _contexts: dict[str, EntityContext] = field(default_factory=dict)

    def context(self, entity: str) -> EntityContext:
        """The entity's context; its mappings translate reference fields through this cycle's store."""
        ctx = self._contexts.get(entity)
        if ctx is None:
            if self.references is None:
                self.references = StoreReferences(self.store)
            ctx = self._contexts[entity] = bind_references(entity_context(self.config, entity), self.references)
        return ctx

    def systems(self, ctx: EntityContext) -> list[str]:
        """The entity's systems this cycle has connectors for, in the config's order."""
        return [system for system in ctx.systems if system in self.connectors]

    def ensure_run(self) -> int:
        """The run row is created on first need, so a quiet cycle writes nothing."""
        if self.run_id is None:
            self.run_id = self.store.start_run("sync", None, {}, dry_run=self.dry_run)
        return self.run_id

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; the run row is made first (on its own connection: SQLite has one writer)."""
        self.ensure_run()
        with self.store.transaction() as conn:
            yield conn

    def call(self, system: str, action: Callable[[], T], idempotent: bool = True) -> T:
        """Call a system behind its retries and circuit breaker (raises SystemDown)."""
        return self.breakers.call(system, action, idempotent)


def bind_references(ctx: EntityContext, references: StoreReferences) -> EntityContext:
    """``ctx`` with mappings that translate its reference fields (``ctx`` itself if it has none)."""
    if not ctx.spec.references():
        return ctx
    return replace(ctx, mappings={system: m.bind(references, system) for system, m in ctx.mappings.items()})


def stamp(value: Any) -> str | None:
    """A system's modification time as stored with a change (naive UTC ISO 8601)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment: dt.datetime = value
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment.isoformat()
    return str(value)


def parse_stamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed

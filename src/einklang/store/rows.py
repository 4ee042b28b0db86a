"""Typed rows of the state store: what the store's functions return.

Canonical values stored as JSON are decoded on first use (``Link.seen``), so a bulk read of
links that only needs ids and hashes does not pay for decoding every record.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from einklang.model import CanonicalRecord, CanonicalValue, decode, load_record


@dataclass(frozen=True)
class Link:
    """One record of one system linked to a golden record, with the state last seen there."""

    golden_id: str
    entity: str
    system: str
    native_id: str
    version: str | None
    record_hash: str | None
    seen_json: str | None = field(default=None, repr=False)
    tolerated_json: str | None = field(default=None, repr=False)

    @cached_property
    def seen(self) -> CanonicalRecord | None:
        """The canonical record last seen or written there (None: only its hash is known)."""
        return load_record(self.seen_json) if self.seen_json else None

    @cached_property
    def tolerated(self) -> dict[str, CanonicalValue]:
        """Ownership violations reported but not reverted: field -> the value tolerated there."""
        return load_record(self.tolerated_json) if self.tolerated_json else {}

    @classmethod
    def from_row(cls, row: Any) -> Link:
        # what __init__ would set, without its object.__setattr__ per field (frozen): a page's
        # merge and its updates make thousands of links
        link = object.__new__(cls)
        link.__dict__.update(
            golden_id=row.golden_id,
            entity=row.entity,
            system=row.system,
            native_id=row.native_id,
            version=row.version,
            record_hash=row.record_hash,
            seen_json=row.seen,
            tolerated_json=row.tolerated,
        )
        return link


@dataclass(frozen=True)
class ChangeRow:
    """A captured change waiting for its merge (``id`` < 0: held in memory by a dry run)."""

    id: int
    system: str
    native_id: str
    kind: str  # upsert, delete
    version: str | None
    record: CanonicalRecord | None
    source_modified: str | None


@dataclass(frozen=True)
class NewChange:
    """A change read from a system, before it is stored."""

    system: str
    native_id: str
    kind: str  # upsert, delete
    version: str | None = None
    record: CanonicalRecord | None = None
    source_modified: str | None = None


@dataclass(frozen=True)
class PlannedWrite:
    """A write to plan in the outbox."""

    system: str
    entity: str
    golden_id: str
    op: str  # create, update, delete, archive
    payload: CanonicalRecord
    cause: str
    native_id: str | None = None
    base_version: str | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """A write planned for a system, stored before it is tried."""

    id: int
    run_id: int | None
    system: str
    entity: str
    golden_id: str
    native_id: str | None
    op: str
    payload: CanonicalRecord
    base_version: str | None
    cause: str
    status: str  # pending, done, failed, superseded
    attempts: int
    last_error: str | None
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> OutboxEntry:
        return cls(
            row.id,
            row.run_id,
            row.system,
            row.entity,
            row.golden_id,
            row.native_id,
            row.op,
            load_record(row.payload),
            row.base_version,
            row.cause,
            row.status,
            int(row.attempts or 0),
            row.last_error,
            row.created_at,
        )


@dataclass(frozen=True)
class FailedWrite:
    """A write that failed for good: an isolated record waiting for a person."""

    id: int
    system: str
    entity: str
    golden_id: str
    native_id: str | None
    op: str
    last_error: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class ConflictRow:
    id: int
    entity: str
    golden_id: str
    field: str
    base: CanonicalValue
    values: dict[str, CanonicalValue]
    status: str  # open, decided, resolved
    resolution: dict[str, Any] | None
    reason: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Any) -> ConflictRow:
        values = {system: decode(value) for system, value in json.loads(row._mapping["values"]).items()}
        return cls(
            row.id,
            row.entity,
            row.golden_id,
            row.field,
            decode(json.loads(row.base)) if row.base is not None else None,
            values,
            row.status,
            json.loads(row.resolution) if row.resolution else None,
            row.reason,
            row.created_at,
            row.resolved_at,
        )


@dataclass(frozen=True)
class AuditEntry:
    """One write einklang made (or a decision it took), with its cause."""

    id: int
    ts: str  # ISO 8601, seconds
    run_id: int | None
    system: str | None
    entity: str
    golden_id: str | None
    native_id: str | None
    op: str
    old: Any
    new: Any
    cause: str

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        return cls(
            row.id,
            row.ts.isoformat(timespec="seconds"),
            row.run_id,
            row.system,
            row.entity,
            row.golden_id,
            row.native_id,
            row.op,
            json.loads(row.old) if row.old else None,
            json.loads(row.new) if row.new else None,
            row.cause,
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Problem:
    """Something a run could not do or found wrong, named by system, record and field."""

    kind: str
    message: str
    system: str | None = None
    entity: str | None = None
    native_id: str | None = None
    golden_id: str | None = None
    field: str | None = None


@dataclass
class Health:
    """A system's circuit-breaker state."""

    failures: int = 0
    open_until: dt.datetime | None = None
    last_error: str | None = None

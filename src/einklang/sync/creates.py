"""The one create path: send planned creates, isolate what the target refuses, link, audit.

The initial load, the importer and the sync engine all create records through
:func:`send_creates` (I2, no duplicates): every create is planned durably before it is sent
(an outbox entry, or one create batch of a bulk load); a batch the target refuses is split so
that the records it accepts still go in and the one it refuses is isolated (a failed outbox
entry and a problem, never retried blindly); what was created is linked and audited in one
transaction. :mod:`einklang.sync.recovery` finds a create a crash interrupted after sending.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from einklang.connectors.base import Connector, NativeRecord, RecordRejected
from einklang.mapping import EntityMapping
from einklang.model import CanonicalRecord, display, record_hash
from einklang.store import journal, links, outbox
from einklang.store.state import StateStore

T = TypeVar("T")


def _direct(action: Callable[[], T]) -> T:
    return action()


def _no_fault(_point: str) -> None:
    return None


@dataclass(slots=True)
class CreateItem:
    """One record to create in the target."""

    golden_id: str
    native: dict[str, Any]  # as sent, with einklang's golden id in the correlation field
    cause: str
    outbox_id: int | None = None  # None: planned in a create batch (a bulk load)
    payload: CanonicalRecord | None = None  # the canonical values sent
    seen_hash: str | None = None  # hash of the target's reading of ``native``, where computed in advance
    audit_new: str | None = None  # the audit entry's ``new`` as JSON (default: the payload's values)


@dataclass
class Created:
    item: CreateItem
    record: NativeRecord
    # the target's reading when it filled in values itself where nothing was sent (a number
    # from its sequence, a default): that system's change, to be merged and sent to the others
    observed: CanonicalRecord | None = None


@dataclass
class CreateResults:
    created: list[Created] = field(default_factory=list)
    refused: list[tuple[CreateItem, str]] = field(default_factory=list)


CreatedHook = Callable[[Connection, list[Created]], None]
RefusedHook = Callable[[Connection, CreateItem, str], None]


@dataclass
class CreateTarget:
    """Where creates go, and how this caller's bookkeeping differs.

    ``keep_seen``: store the full canonical record the target holds in the link (the sync
    measures later changes against it) and report values the target filled in; otherwise only
    its hash (bulk paths, where the next change is measured against the golden base).
    """

    store: StateStore
    connector: Connector
    entity: str
    mapping: EntityMapping
    run_id: int | None
    keep_seen: bool = False
    call: Callable[[Callable[[], Any]], Any] = _direct  # e.g. behind the engine's circuit breaker
    fault: Callable[[str], None] = _no_fault  # crash-test hook: before_create, after_create
    on_created: CreatedHook | None = None  # more rows to write in the same transaction
    on_refused: RefusedHook | None = None

    @property
    def system(self) -> str:
        return self.connector.system


def send_creates(target: CreateTarget, items: Sequence[CreateItem], batch_id: int | None = None) -> CreateResults:
    """Create ``items`` in one request; a refused batch is split to isolate the refused record."""
    results = CreateResults()
    if not items:
        return results
    natives = [item.native for item in items]
    target.fault("before_create")
    try:
        # not retried: a create whose reply was lost is found (not repeated) by recovery
        created: list[NativeRecord] = target.call(lambda: target.connector.create(target.entity, natives))
    except RecordRejected as exc:
        if len(items) > 1:
            for item in items:  # the others still go in
                single = send_creates(target, [item])
                results.created.extend(single.created)
                results.refused.extend(single.refused)
        else:
            _refuse(target, items[0], str(exc))
            results.refused.append((items[0], str(exc)))
        if batch_id is not None:
            with target.store.transaction() as conn:
                outbox.finish_create_batch(conn, batch_id)
        return results
    target.fault("after_create")
    results.created = [_reading(target, item, record) for item, record in zip(items, created, strict=True)]
    _store_created(target, results.created, batch_id)
    return results


def _reading(target: CreateTarget, item: CreateItem, record: NativeRecord) -> Created:
    """What the target holds after the create, as far as the link needs it."""
    if not target.keep_seen:
        return Created(item, record)
    payload = item.payload or {}
    seen, _ = target.mapping.to_canonical(record.fields) if record.fields else (dict(payload), [])
    filled = {k: v for k, v in seen.items() if v is not None and payload.get(k) is None}
    return Created(item, record, seen if filled else None)


def _store_created(target: CreateTarget, created: list[Created], batch_id: int | None) -> None:
    entity, system = target.entity, target.system
    columns = target.mapping.native_columns
    with target.store.transaction() as conn:
        if target.keep_seen:
            for done in created:
                payload = done.item.payload or {}
                if done.observed is not None:  # measured against "nothing" there, so the fill is a change
                    seen = {**done.observed, **{k: None for k in done.observed if payload.get(k) is None}}
                elif done.record.fields:
                    seen = target.mapping.to_canonical(done.record.fields)[0]
                else:
                    seen = dict(payload)
                links.insert_link(
                    conn, entity, system, done.item.golden_id, done.record.native_id, done.record.version, seen
                )
        else:
            rows = []
            for done in created:
                item, fields = done.item, done.record.fields
                seen_hash = item.seen_hash
                if seen_hash is None or (fields and _stored_differently(fields, item.native, columns)):
                    # the target stored something else than it was sent (a default, a rounding): that is what it holds
                    seen_hash = record_hash(target.mapping.to_canonical(fields)[0])
                rows.append((item.golden_id, done.record.native_id, done.record.version, seen_hash))
            links.insert_links(conn, entity, system, rows)
        for done in created:
            if done.item.outbox_id is not None:
                outbox.finish_outbox(conn, done.item.outbox_id, "done", native_id=done.record.native_id)
        if batch_id is not None:
            outbox.finish_create_batch(conn, batch_id)
        causes = {done.item.cause for done in created}
        if batch_id is not None and len(causes) == 1:  # a bulk load's batch: one audit row for it
            journal.audit_created_batch(
                conn,
                target.run_id,
                system,
                entity,
                causes.pop(),
                [(done.item.golden_id, done.record.native_id, _audit_new(done.item)) for done in created],
            )
        else:
            _audit_each(target, conn, created)
        if target.on_created is not None:
            target.on_created(conn, created)


def _audit_each(target: CreateTarget, conn: Connection, created: list[Created]) -> None:
    journal.audit_rows(
        conn,
        target.run_id,
        [
            (
                target.system,
                target.entity,
                done.item.golden_id,
                done.record.native_id,
                "create",
                None,
                _audit_new(done.item),
                done.item.cause,
            )
            for done in created
        ],
    )


def _stored_differently(stored: Mapping[str, Any], sent: Mapping[str, Any], columns: Sequence[str]) -> bool:
    """Whether the target stored, in any mapped column, something else than it was sent."""
    if list(map(stored.get, columns)) == list(map(sent.get, columns)):
        return False  # the usual case, compared without a Python call per column
    return any(_differs(stored.get(c), sent.get(c)) for c in columns)


def _differs(stored: Any, sent: Any) -> bool:
    """Whether the target stored something else than it was sent.

    A reference goes out as the native id's text and an integer column gives it back as a
    number: the same value, read the same way (einklang compares native ids as text).
    """
    if stored == sent:
        return False
    return stored is None or sent is None or type(stored) is not int or str(stored) != sent


def _audit_new(item: CreateItem) -> str | None:
    if item.audit_new is not None:
        return item.audit_new
    if item.payload is None:
        return None
    return json.dumps({k: display(v) for k, v in item.payload.items() if v is not None}, ensure_ascii=False)


def _refuse(target: CreateTarget, item: CreateItem, error: str) -> None:
    with target.store.transaction() as conn:
        if item.outbox_id is None:  # planned in a batch: kept as a failed outbox entry so `status` lists it
            outbox.add_failed_create(
                conn, target.run_id, target.entity, target.system, item.golden_id, error, item.cause
            )
        record_refusal(
            conn, target.run_id, target.entity, target.system, item.golden_id, None, "create", item.outbox_id, error
        )
        if target.on_refused is not None:
            target.on_refused(conn, item, error)


def record_refusal(
    conn: Connection,
    run_id: int | None,
    entity: str,
    system: str,
    golden_id: str,
    native_id: str | None,
    op: str,
    outbox_id: int | None,
    error: str,
) -> None:
    """A write the system refused for good: the entry fails (isolated, not retried) and a problem says why."""
    if outbox_id is not None:
        outbox.finish_outbox(conn, outbox_id, "failed", error)
    journal.add_problems(
        conn,
        run_id,
        [
            {
                "kind": "rejected",
                "system": system,
                "entity": entity,
                "golden_id": golden_id,
                "native_id": native_id,
                "message": f"{op} rejected: {error}",
            }
        ],
    )


def native_for_create(
    mapping: EntityMapping, correlation_field: str | None, golden_id: str, record: CanonicalRecord
) -> dict[str, Any]:
    """The native record to create, carrying einklang's golden id where the target has room for it."""
    native = mapping.to_native(record)
    if correlation_field:
        native[correlation_field] = golden_id
    return native

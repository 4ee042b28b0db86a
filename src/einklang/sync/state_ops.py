"""State store queries of the sync engine (links with their seen state, changes, outbox,
conflicts, system health). Every function takes the connection of the caller's transaction so
that one record's step is written all at once or not at all."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.model import (
    CanonicalRecord,
    CanonicalValue,
    decode,
    decode_record,
    encode,
    encode_record,
    record_hash,
    record_json,
)
from einklang.store import schema as t
from einklang.store.state import utcnow

CHUNK = 500


@dataclass(frozen=True)
class LinkState:
    golden_id: str
    system: str
    native_id: str
    version: str | None
    record_hash: str | None
    seen: CanonicalRecord | None
    tolerated: dict[str, CanonicalValue]


@dataclass(frozen=True)
class ChangeRow:
    id: int
    system: str
    native_id: str
    kind: str
    version: str | None
    record: CanonicalRecord | None
    source_modified: str | None


def _chunks(items: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


def _link_state(row: Any) -> LinkState:
    seen = decode_record(json.loads(row.seen)) if row.seen else None
    tolerated = decode_record(json.loads(row.tolerated)) if row.tolerated else {}
    return LinkState(row.golden_id, row.system, row.native_id, row.version, row.record_hash, seen, tolerated)


# ------------------------------------------------------------------------------ links
def links_by_native(conn: Connection, system: str, entity: str, native_ids: Sequence[str]) -> dict[str, LinkState]:
    found: dict[str, LinkState] = {}
    for chunk in _chunks(list(native_ids)):
        rows = conn.execute(sa.select(t.links).where(
            t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id.in_(chunk)))
        for row in rows:
            found[row.native_id] = _link_state(row)
    return found


def link_hashes(conn: Connection, system: str, entity: str, native_ids: Sequence[str]) -> dict[str, str | None]:
    """Only what echo detection needs: native id -> record hash of linked records."""
    found: dict[str, str | None] = {}
    for chunk in _chunks(list(native_ids)):
        rows = conn.execute(sa.select(t.links.c.native_id, t.links.c.record_hash).where(
            t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id.in_(chunk)))
        for row in rows:
            found[row.native_id] = row.record_hash
    return found


def links_of_golden(conn: Connection, golden_id: str) -> dict[str, LinkState]:
    rows = conn.execute(sa.select(t.links).where(t.links.c.golden_id == golden_id))
    return {row.system: _link_state(row) for row in rows}


def insert_link(conn: Connection, entity: str, system: str, golden_id: str, native_id: str,
                version: str | None, seen: CanonicalRecord) -> None:
    now = utcnow()
    conn.execute(t.links.insert().values(
        golden_id=golden_id, entity=entity, system=system, native_id=native_id, version=version,
        record_hash=record_hash(seen), seen=record_json(seen), tolerated=None, created_at=now, updated_at=now))


def save_link(conn: Connection, entity: str, system: str, native_id: str, version: str | None,
              seen: CanonicalRecord, tolerated: Mapping[str, CanonicalValue]) -> None:
    conn.execute(t.links.update().where(
        t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id == native_id,
    ).values(version=version, record_hash=record_hash(seen), seen=record_json(seen),
             tolerated=record_json(tolerated) if tolerated else None, updated_at=utcnow()))


# ------------------------------------------------------------------------------ golden
def load_golden(conn: Connection, golden_id: str) -> tuple[CanonicalRecord, str] | None:
    row = conn.execute(sa.select(t.golden.c.base, t.golden.c.status).where(t.golden.c.id == golden_id)).first()
    if row is None:
        return None
    return decode_record(json.loads(row.base)), row.status


def golden_entity_status(conn: Connection, golden_id: str) -> tuple[str, str] | None:
    """(entity, status) of a golden record, or None if there is no such record."""
    row = conn.execute(sa.select(t.golden.c.entity, t.golden.c.status).where(t.golden.c.id == golden_id)).first()
    return (row.entity, row.status) if row is not None else None


def golden_bases_unlinked_in(conn: Connection, entity: str, system: str) -> dict[str, CanonicalRecord]:
    """Active golden records of ``entity`` with no link in ``system``: what a new record there may be."""
    linked_here = sa.select(t.links.c.golden_id).where(t.links.c.system == system, t.links.c.entity == entity)
    rows = conn.execute(
        sa.select(t.golden.c.id, t.golden.c.base).where(
            t.golden.c.entity == entity, t.golden.c.status == "active", t.golden.c.id.not_in(linked_here)
        )
    )
    return {row.id: decode_record(json.loads(row.base)) for row in rows}


def save_golden(conn: Connection, golden_id: str, base: CanonicalRecord, status: str | None = None) -> None:
    values: dict[str, Any] = {"base": record_json(base), "base_hash": record_hash(base), "updated_at": utcnow()}
    if status is not None:
        values["status"] = status
    conn.execute(t.golden.update().where(t.golden.c.id == golden_id).values(**values))


# ------------------------------------------------------------------------------ changes
def insert_changes(conn: Connection, run_id: int | None, entity: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    now = utcnow()
    conn.execute(t.changes.insert(), [
        {"run_id": run_id, "system": r["system"], "entity": entity, "native_id": r["native_id"], "kind": r["kind"],
         "version": r.get("version"), "record": record_json(r["record"]) if r.get("record") is not None else None,
         "source_modified": r.get("source_modified"), "captured_at": now}
        for r in rows])


def pending_changes(conn: Connection, entity: str, after_id: int, limit: int,
                    include_deletes: bool = True) -> list[ChangeRow]:
    query = sa.select(t.changes).where(
        t.changes.c.entity == entity, t.changes.c.processed_at.is_(None), t.changes.c.id > after_id,
    ).order_by(t.changes.c.id).limit(limit)
    if not include_deletes:
        query = query.where(t.changes.c.kind != "delete")
    return [
        ChangeRow(row.id, row.system, row.native_id, row.kind, row.version,
                  decode_record(json.loads(row.record)) if row.record else None, row.source_modified)
        for row in conn.execute(query)
    ]


def count_pending_deletes(conn: Connection, entity: str) -> int:
    """Golden records that pending deletions would remove (one record deleted in two systems is one)."""
    joined = t.changes.join(t.links, sa.and_(
        t.links.c.system == t.changes.c.system, t.links.c.entity == t.changes.c.entity,
        t.links.c.native_id == t.changes.c.native_id))
    return int(conn.execute(sa.select(sa.func.count(sa.distinct(t.links.c.golden_id))).select_from(joined).where(
        t.changes.c.entity == entity, t.changes.c.processed_at.is_(None), t.changes.c.kind == "delete",
    )).scalar_one())


def mark_changes_processed(conn: Connection, ids: Sequence[int]) -> None:
    now = utcnow()
    for chunk in _chunks(list(ids)):
        conn.execute(t.changes.update().where(t.changes.c.id.in_(chunk)).values(processed_at=now))


def purge_processed_changes(conn: Connection, older_than: dt.timedelta) -> int:
    """Forget captured changes that were merged long ago (the audit log keeps what was written)."""
    cutoff = utcnow() - older_than
    result = conn.execute(
        t.changes.delete().where(t.changes.c.processed_at.is_not(None), t.changes.c.processed_at < cutoff)
    )
    return int(result.rowcount or 0)


# ------------------------------------------------------------------------------ outbox
def add_outbox(conn: Connection, run_id: int | None, entity: str, system: str, golden_id: str,
               native_id: str | None, op: str, payload: CanonicalRecord, cause: str,
               base_version: str | None = None) -> int:
    result = conn.execute(t.outbox.insert().values(
        run_id=run_id, system=system, entity=entity, golden_id=golden_id, native_id=native_id, op=op,
        payload=json.dumps(encode_record(payload)), base_version=base_version, cause=cause, status="pending",
        attempts=0, created_at=utcnow()))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def supersede_pending(conn: Connection, system: str, golden_id: str, ops: Sequence[str], reason: str) -> None:
    conn.execute(t.outbox.update().where(
        t.outbox.c.golden_id == golden_id, t.outbox.c.system == system, t.outbox.c.status == "pending",
        t.outbox.c.op.in_(list(ops)),
    ).values(status="superseded", last_error=reason, done_at=utcnow()))


def pending_for_golden(conn: Connection, golden_id: str, system: str, op: str) -> list[int]:
    return [int(row.id) for row in conn.execute(sa.select(t.outbox.c.id).where(
        t.outbox.c.golden_id == golden_id, t.outbox.c.system == system, t.outbox.c.status == "pending",
        t.outbox.c.op == op))]


def pending_creates_with_bases(conn: Connection, system: str, entity: str) -> list[tuple[str, CanonicalRecord,
                                                                                          CanonicalRecord]]:
    """Pending creates for ``system``: (golden id, planned payload, golden base now), in outbox order.

    What a new record there may be the result of (an interrupted create) or a counterpart of.
    """
    query = sa.select(t.outbox.c.golden_id, t.outbox.c.payload, t.golden.c.base).select_from(
        t.outbox.join(t.golden, t.golden.c.id == t.outbox.c.golden_id)
    ).where(t.outbox.c.system == system, t.outbox.c.entity == entity, t.outbox.c.status == "pending",
            t.outbox.c.op == "create").order_by(t.outbox.c.id)
    return [(row.golden_id, decode_record(json.loads(row.payload)), decode_record(json.loads(row.base)))
            for row in conn.execute(query)]


def sent_create_payload(conn: Connection, golden_id: str, system: str,
                        sent_only: bool = True) -> CanonicalRecord | None:
    """The payload of a pending create for ``golden_id`` in ``system`` that may have been sent.

    ``note_sending`` counts an attempt (and stores the payload sent) before a create goes out,
    so a pending create with attempts was sent, or was about to be, when a run died. With
    ``sent_only=False`` (the record is known to be einklang's) any pending create's payload.
    """
    query = sa.select(t.outbox.c.payload).where(
        t.outbox.c.golden_id == golden_id, t.outbox.c.system == system, t.outbox.c.status == "pending",
        t.outbox.c.op == "create")
    if sent_only:
        query = query.where(t.outbox.c.attempts > 0)
    row = conn.execute(query.order_by(t.outbox.c.id.desc()).limit(1)).first()
    return decode_record(json.loads(row.payload)) if row is not None else None


def note_sending(conn: Connection, outbox_id: int, payload: CanonicalRecord) -> None:
    """Before a create is sent: store the payload as sent and count the attempt."""
    conn.execute(t.outbox.update().where(t.outbox.c.id == outbox_id).values(
        payload=json.dumps(encode_record(payload)), attempts=t.outbox.c.attempts + 1))


def pending_outbox(conn: Connection, system: str, entity: str, ops: Sequence[str], limit: int,
                   after_id: int = 0) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(t.outbox).where(
        t.outbox.c.system == system, t.outbox.c.entity == entity, t.outbox.c.status == "pending",
        t.outbox.c.op.in_(list(ops)), t.outbox.c.id > after_id,
    ).order_by(t.outbox.c.id).limit(limit)).all()
    result = []
    for row in rows:
        entry = dict(row._mapping)
        entry["payload"] = decode_record(json.loads(entry["payload"]))
        result.append(entry)
    return result


def finish_outbox(conn: Connection, outbox_id: int, status: str, error: str | None = None,
                  native_id: str | None = None) -> None:
    values: dict[str, Any] = {"status": status, "last_error": error, "attempts": t.outbox.c.attempts + 1}
    if status in ("done", "superseded"):
        values["done_at"] = utcnow()
    if native_id is not None:
        values["native_id"] = native_id
    conn.execute(t.outbox.update().where(t.outbox.c.id == outbox_id).values(**values))


def count_attempt(conn: Connection, outbox_id: int, error: str) -> None:
    conn.execute(t.outbox.update().where(t.outbox.c.id == outbox_id).values(
        attempts=t.outbox.c.attempts + 1, last_error=error))


# ------------------------------------------------------------------------------ conflicts
@dataclass(frozen=True)
class ConflictRow:
    id: int
    entity: str
    golden_id: str
    field: str
    base: CanonicalValue
    values: dict[str, CanonicalValue]
    status: str
    resolution: dict[str, Any] | None
    reason: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None


def _conflict(row: Any) -> ConflictRow:
    values = {system: decode(value) for system, value in json.loads(row._mapping["values"]).items()}
    return ConflictRow(row.id, row.entity, row.golden_id, row.field,
                       decode(json.loads(row.base)) if row.base is not None else None, values, row.status,
                       json.loads(row.resolution) if row.resolution else None, row.reason, row.created_at,
                       row.resolved_at)


HELD_STATUSES = ("open", "decided")  # a decided conflict stays held until the engine applies it


def held_conflicts(conn: Connection, golden_id: str) -> dict[str, ConflictRow]:
    rows = conn.execute(sa.select(t.conflicts).where(
        t.conflicts.c.golden_id == golden_id, t.conflicts.c.status.in_(HELD_STATUSES)))
    return {row.field: _conflict(row) for row in rows}


def insert_conflict(conn: Connection, entity: str, golden_id: str, field: str, base: CanonicalValue,
                    values: Mapping[str, CanonicalValue], reason: str) -> int:
    result = conn.execute(t.conflicts.insert().values(
        entity=entity, golden_id=golden_id, field=field, base=json.dumps(encode(base)),
        values=json.dumps({s: encode(v) for s, v in values.items()}), status="open", reason=reason,
        created_at=utcnow()))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_conflict_values(conn: Connection, conflict_id: int, values: Mapping[str, CanonicalValue]) -> None:
    conn.execute(t.conflicts.update().where(t.conflicts.c.id == conflict_id).values(
        values=json.dumps({s: encode(v) for s, v in values.items()})))


def close_conflict(conn: Connection, conflict_id: int, resolution: Mapping[str, Any]) -> None:
    conn.execute(t.conflicts.update().where(t.conflicts.c.id == conflict_id).values(
        status="resolved", resolution=json.dumps(resolution, default=str), resolved_at=utcnow()))


def decided_conflicts(conn: Connection, entity: str) -> list[ConflictRow]:
    rows = conn.execute(sa.select(t.conflicts).where(
        t.conflicts.c.entity == entity, t.conflicts.c.status == "decided").order_by(t.conflicts.c.id))
    return [_conflict(row) for row in rows]


def list_conflicts(conn: Connection, status: str | None = "open", entity: str | None = None,
                   limit: int = 1000) -> list[ConflictRow]:
    query = sa.select(t.conflicts).order_by(t.conflicts.c.id).limit(limit)
    if status:
        query = query.where(t.conflicts.c.status == status)
    if entity:
        query = query.where(t.conflicts.c.entity == entity)
    return [_conflict(row) for row in conn.execute(query)]


def get_conflict(conn: Connection, conflict_id: int) -> ConflictRow | None:
    row = conn.execute(sa.select(t.conflicts).where(t.conflicts.c.id == conflict_id)).first()
    return _conflict(row) if row is not None else None


def decide_conflict(conn: Connection, conflict_id: int, resolution: Mapping[str, Any]) -> None:
    conn.execute(t.conflicts.update().where(t.conflicts.c.id == conflict_id).values(
        status="decided", resolution=json.dumps(resolution, default=str)))


# ------------------------------------------------------------------------------ health
@dataclass
class Health:
    failures: int = 0
    open_until: dt.datetime | None = None
    last_error: str | None = None


def load_health(conn: Connection) -> dict[str, Health]:
    return {row.system: Health(row.failures, row.open_until, row.last_error)
            for row in conn.execute(sa.select(t.system_health))}


def save_health(conn: Connection, system: str, health: Health) -> None:
    values = {"failures": health.failures, "open_until": health.open_until, "last_error": health.last_error,
              "updated_at": utcnow()}
    updated = conn.execute(t.system_health.update().where(t.system_health.c.system == system).values(**values))
    if updated.rowcount == 0:
        conn.execute(t.system_health.insert().values(system=system, **values))

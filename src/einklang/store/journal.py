"""The audit log (every write einklang makes, with its cause) and the problems runs report."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.masking import mask
from einklang.sql_bulk import driver_value, insert_rows
from einklang.store import schema as t
from einklang.store.rows import AuditEntry
from einklang.store.state import utcnow

# (system, entity, golden_id, native_id, op, old as JSON, new as JSON, cause)
AuditRow = tuple[str | None, str, str | None, str | None, str, str | None, str | None, str]


def _json(value: Any) -> str | None:
    return json.dumps(value, default=str, ensure_ascii=False) if value is not None else None


def audit(conn: Connection, run_id: int | None, entries: Sequence[Mapping[str, Any]]) -> None:
    """Entries: entity, op, cause; optionally system, golden_id, native_id, old, new (JSON-able)."""
    audit_rows(
        conn,
        run_id,
        [
            (
                e.get("system"),
                e["entity"],
                e.get("golden_id"),
                e.get("native_id"),
                e["op"],
                _json(e.get("old")),
                _json(e.get("new")),
                e["cause"],
            )
            for e in entries
        ],
    )


def audit_rows(conn: Connection, run_id: int | None, rows: Sequence[AuditRow]) -> None:
    """The bulk form of :func:`audit`, with old and new already as JSON."""
    if not rows:
        return
    now = driver_value(conn, t.audit.c.ts, utcnow())
    insert_rows(
        conn,
        t.audit,
        ("ts", "run_id", "system", "entity", "golden_id", "native_id", "op", "old", "new", "cause"),
        [(now, run_id, *row) for row in rows],
    )


# (golden_id, native_id, new as JSON or None): one created record of a batch
BatchCreate = tuple[str, str, str | None]

BATCH_OP = "create_batch"  # the op of one audit row for a batch of creates; read back as "create"s


def audit_created_batch(
    conn: Connection, run_id: int | None, system: str, entity: str, cause: str, created: Sequence[BatchCreate]
) -> None:
    """Audit the records a bulk create made in ``system``: one row for the batch, not one per record.

    ``audit_log`` reads it back as one ``create`` entry per record (same id, time, run and cause),
    and finds it for one record through the range of golden ids the batch holds.
    """
    if not created:
        return
    golden_ids = [gid for gid, _, _ in created]
    # {"golden_ids": [...], "native_ids": [...], "new": [...]}: two json.dumps calls and one join
    # for the batch; each record's "new" is JSON already and goes in as it is
    records = (
        f'{{"golden_ids":{json.dumps(golden_ids)},'
        f'"native_ids":{json.dumps([nid for _, nid, _ in created], ensure_ascii=False)},'
        f'"new":[{",".join(new or "null" for _, _, new in created)}]}}'
    )
    result = conn.execute(
        t.audit.insert().values(
            ts=utcnow(), run_id=run_id, system=system, entity=entity, op=BATCH_OP, new=records, cause=cause
        )
    )
    audit_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    conn.execute(
        t.audit_batches.insert().values(audit_id=audit_id, first_golden=min(golden_ids), last_golden=max(golden_ids))
    )


def audit_log(
    conn: Connection,
    entity: str | None = None,
    golden_id: str | None = None,
    run_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first; a batch of creates comes back as one ``create`` entry per record."""
    query = sa.select(t.audit).order_by(t.audit.c.id.desc())
    if entity:
        query = query.where(t.audit.c.entity == entity)
    if not golden_id:  # (a batch found by its range of golden ids may not hold this one)
        query = query.limit(limit)
    else:
        in_batch = sa.select(t.audit_batches.c.audit_id).where(
            t.audit_batches.c.first_golden <= golden_id, t.audit_batches.c.last_golden >= golden_id
        )
        query = query.where(sa.or_(t.audit.c.golden_id == golden_id, t.audit.c.id.in_(in_batch)))
    if run_id is not None:
        query = query.where(t.audit.c.run_id == run_id)
    entries: list[AuditEntry] = []
    for row in conn.execute(query):
        if row.op == BATCH_OP:
            entries.extend(_expand_batch(row, golden_id))
        else:
            entries.append(AuditEntry.from_row(row))
        if len(entries) >= limit:
            break
    return entries[:limit]


def _expand_batch(row: Any, golden_id: str | None) -> list[AuditEntry]:
    """The per-record ``create`` entries of a batch row, newest (last created) first."""
    ts = row.ts.isoformat(timespec="seconds")
    batch = json.loads(row.new)
    records = zip(batch["golden_ids"], batch["native_ids"], batch["new"], strict=True)
    return [
        AuditEntry(row.id, ts, row.run_id, row.system, row.entity, gid, nid, "create", None, new, row.cause)
        for gid, nid, new in reversed(list(records))
        if golden_id is None or gid == golden_id
    ]


def add_problems(conn: Connection, run_id: int | None, problems: Sequence[Mapping[str, Any]]) -> None:
    """Problems: kind, message; optionally system, entity, native_id, golden_id, field."""
    if not problems:
        return
    now = utcnow()
    conn.execute(
        t.problems.insert(),
        [
            {
                "run_id": run_id,
                "kind": p["kind"],
                "system": p.get("system"),
                "entity": p.get("entity"),
                "native_id": p.get("native_id"),
                "golden_id": p.get("golden_id"),
                "field": p.get("field"),
                "message": mask(p["message"]),
                "created_at": now,
            }
            for p in problems
        ],
    )


def problems(conn: Connection, run_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first."""
    query = sa.select(t.problems).order_by(t.problems.c.id.desc()).limit(limit)
    if run_id is not None:
        query = query.where(t.problems.c.run_id == run_id)
    return [dict(row._mapping) for row in conn.execute(query)]

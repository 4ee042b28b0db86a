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


def audit_log(
    conn: Connection,
    entity: str | None = None,
    golden_id: str | None = None,
    run_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first."""
    query = sa.select(t.audit).order_by(t.audit.c.id.desc()).limit(limit)
    if entity:
        query = query.where(t.audit.c.entity == entity)
    if golden_id:
        query = query.where(t.audit.c.golden_id == golden_id)
    if run_id is not None:
        query = query.where(t.audit.c.run_id == run_id)
    return [AuditEntry.from_row(row) for row in conn.execute(query)]


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

"""Conflicts: a field changed differently in two systems, waiting for a person's decision.

A conflict is ``open`` until someone decides it (``decided``: the resolution is stored); the
next sync cycle applies the decision and closes it (``resolved``). Both open and decided
conflicts hold their field back from the merge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.model import CanonicalValue, encode
from einklang.store import schema as t
from einklang.store.rows import ConflictRow
from einklang.store.state import chunks, utcnow

HELD_STATUSES = ("open", "decided")  # a decided conflict stays held until the engine applies it


def held_conflicts(conn: Connection, golden_id: str) -> dict[str, ConflictRow]:
    """field -> the conflict holding it back, for one golden record."""
    rows = conn.execute(
        sa.select(t.conflicts).where(t.conflicts.c.golden_id == golden_id, t.conflicts.c.status.in_(HELD_STATUSES))
    )
    return {row.field: ConflictRow.from_row(row) for row in rows}


def held_conflicts_of(conn: Connection, golden_ids: Sequence[str]) -> dict[str, dict[str, ConflictRow]]:
    """golden id -> field -> the conflict holding it back, for many golden records (only those with one)."""
    found: dict[str, dict[str, ConflictRow]] = {}
    for chunk in chunks(golden_ids):
        rows = conn.execute(
            sa.select(t.conflicts).where(t.conflicts.c.golden_id.in_(chunk), t.conflicts.c.status.in_(HELD_STATUSES))
        )
        for row in rows:
            found.setdefault(row.golden_id, {})[row.field] = ConflictRow.from_row(row)
    return found


def insert_conflict(
    conn: Connection,
    entity: str,
    golden_id: str,
    field: str,
    base: CanonicalValue,
    values: Mapping[str, CanonicalValue],
    reason: str,
) -> int:
    result = conn.execute(
        t.conflicts.insert().values(
            entity=entity,
            golden_id=golden_id,
            field=field,
            base=json.dumps(encode(base)),
            values=json.dumps({s: encode(v) for s, v in values.items()}),
            status="open",
            reason=reason,
            created_at=utcnow(),
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_conflict_values(conn: Connection, conflict_id: int, values: Mapping[str, CanonicalValue]) -> None:
    conn.execute(
        t.conflicts.update()
        .where(t.conflicts.c.id == conflict_id)
        .values(values=json.dumps({s: encode(v) for s, v in values.items()}))
    )


def decide_conflict(conn: Connection, conflict_id: int, resolution: Mapping[str, Any]) -> None:
    """A person's decision (``{"take": system}`` or ``{"value": ...}``, and ``by``); applied by the next cycle."""
    conn.execute(
        t.conflicts.update()
        .where(t.conflicts.c.id == conflict_id)
        .values(status="decided", resolution=json.dumps(resolution, default=str))
    )


def close_conflict(conn: Connection, conflict_id: int, resolution: Mapping[str, Any]) -> None:
    conn.execute(
        t.conflicts.update()
        .where(t.conflicts.c.id == conflict_id)
        .values(status="resolved", resolution=json.dumps(resolution, default=str), resolved_at=utcnow())
    )


def decided_conflicts(conn: Connection, entity: str) -> list[ConflictRow]:
    rows = conn.execute(
        sa.select(t.conflicts)
        .where(t.conflicts.c.entity == entity, t.conflicts.c.status == "decided")
        .order_by(t.conflicts.c.id)
    )
    return [ConflictRow.from_row(row) for row in rows]


def list_conflicts(
    conn: Connection, status: str | None = "open", entity: str | None = None, limit: int = 1000
) -> list[ConflictRow]:
    query = sa.select(t.conflicts).order_by(t.conflicts.c.id).limit(limit)
    if status:
        query = query.where(t.conflicts.c.status == status)
    if entity:
        query = query.where(t.conflicts.c.entity == entity)
    return [ConflictRow.from_row(row) for row in conn.execute(query)]


def get_conflict(conn: Connection, conflict_id: int) -> ConflictRow | None:
    row = conn.execute(sa.select(t.conflicts).where(t.conflicts.c.id == conflict_id)).first()
    return ConflictRow.from_row(row) if row is not None else None


def count_open_conflicts(conn: Connection, entity: str) -> int:
    query = sa.select(sa.func.count()).select_from(t.conflicts)
    return int(conn.execute(query.where(t.conflicts.c.entity == entity, t.conflicts.c.status == "open")).scalar_one())

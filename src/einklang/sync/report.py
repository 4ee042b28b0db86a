"""What a sync cycle did, per entity, and the plan a dry run shows instead of doing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.model import display
from einklang.store import schema as t
from einklang.store.rows import ConflictRow, OutboxEntry


@dataclass
class EntityReport:
    entity: str
    captured: int = 0  # changes read from the systems and stored for merging
    echoes: int = 0  # records read back unchanged since einklang wrote them: nothing to do
    merged: int = 0
    updates_planned: int = 0
    creates_planned: int = 0
    deletes_planned: int = 0
    linked: int = 0
    conflicts: int = 0
    violations: int = 0
    applied: int = 0
    created: int = 0
    deleted: int = 0
    stale: int = 0
    failed: int = 0
    resolved: int = 0
    waiting: int = 0  # writes kept in the outbox until the record they refer to is linked there
    unavailable: dict[str, str] = field(default_factory=dict)
    held_back: list[str] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)  # systems added later, filled by this cycle
    plan: list[dict[str, Any]] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(
            self.captured
            or self.merged
            or self.applied
            or self.created
            or self.deleted
            or self.resolved
            or self.failed
            or self.stale
        )

    @property
    def progressed(self) -> bool:
        """Read or wrote something: a loop runs the next cycle at once (failures alone do not count,
        so a write that keeps failing never turns the loop into a busy one)."""
        return bool(self.captured or self.merged or self.applied or self.created or self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CycleReport:
    dry_run: bool
    run_id: int | None = None
    entities: list[EntityReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def busy(self) -> bool:
        return any(e.busy for e in self.entities)

    @property
    def progressed(self) -> bool:
        return any(e.progressed for e in self.entities)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "seconds": round(self.seconds, 4),
            "entities": [e.as_dict() for e in self.entities],
        }


# --------------------------------------------------------------------------- dry-run plans

_MARKED = (t.outbox, t.conflicts, t.problems, t.audit)
# audited links that are bookkeeping, not news: a new record is linked to its own new golden record
_OWN_LINK_CAUSE = "new record in "


def plan_marks(conn: Connection) -> dict[str, int]:
    """The highest row id of each table a plan is read from, before a dry run starts."""
    return {table.name: int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) for table in _MARKED}


def read_plan(conn: Connection, marks: dict[str, int], entity: str) -> list[dict[str, Any]]:
    """What a cycle wrote since ``marks`` for ``entity``, as plan actions, in the order it happened.

    A dry run runs the real cycle inside a transaction that is rolled back and sends nothing;
    what it planned (writes in the outbox, conflicts, problems, links) is read back here first.
    """
    actions: list[tuple[str, int, dict[str, Any]]] = []
    for row in conn.execute(
        sa.select(t.outbox).where(
            t.outbox.c.id > marks["outbox"], t.outbox.c.entity == entity, t.outbox.c.status == "pending"
        )
    ):
        entry = OutboxEntry.from_row(row)
        actions.append(
            (
                "outbox",
                entry.id,
                {
                    "action": entry.op,
                    "entity": entity,
                    "system": entry.system,
                    "native_id": entry.native_id,
                    "golden_id": entry.golden_id,
                    "values": {k: display(v) for k, v in entry.payload.items() if v is not None},
                    "cause": entry.cause,
                },
            )
        )
    for row in conn.execute(
        sa.select(t.conflicts).where(t.conflicts.c.id > marks["conflicts"], t.conflicts.c.entity == entity)
    ):
        conflict = ConflictRow.from_row(row)
        actions.append(
            (
                "conflicts",
                conflict.id,
                {
                    "action": "conflict",
                    "entity": entity,
                    "golden_id": conflict.golden_id,
                    "field": conflict.field,
                    "reason": conflict.reason,
                    "values": {s: display(v) for s, v in conflict.values.items()},
                },
            )
        )
    for row in conn.execute(
        sa.select(t.problems).where(t.problems.c.id > marks["problems"], t.problems.c.entity == entity)
    ):
        actions.append(
            (
                "problems",
                row.id,
                {
                    "action": "violation" if row.kind == "violation" else "skip",
                    "kind": row.kind,
                    "entity": entity,
                    "system": row.system,
                    "native_id": row.native_id,
                    "golden_id": row.golden_id,
                    "field": row.field,
                    "reason": row.message,
                },
            )
        )
    for row in conn.execute(
        sa.select(t.audit).where(
            t.audit.c.id > marks["audit"], t.audit.c.entity == entity, t.audit.c.op.in_(("link", "unlink", "resolve"))
        )
    ):
        if row.op == "link" and row.cause.startswith(_OWN_LINK_CAUSE):
            continue
        actions.append(
            (
                "audit",
                row.id,
                {
                    "action": row.op,
                    "entity": entity,
                    "system": row.system,
                    "native_id": row.native_id,
                    "golden_id": row.golden_id,
                    "cause": row.cause,
                },
            )
        )
    # tables interleave by time, not id: keep each table's order, tables in the order of a cycle's stages
    order = {"audit": 0, "conflicts": 1, "problems": 2, "outbox": 3}
    return [action for _, _, action in sorted(actions, key=lambda item: (order[item[0]], item[1]))]

"""A person's decision on a conflict: one implementation for the command line, the web app and the API.

A decision is stored on the conflict (status ``decided``) and carried out by the next sync cycle,
which writes the value to every system and audits it with the decision's ``by``. Deciding is
refused when the conflict is no longer open (someone else decided it, or a later change resolved
it): the caller gets the current state back instead of overwriting a decision it never saw.
``expected_values`` lets a form say which values its user looked at; when a later cycle changed
them, the decision is refused as stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.config import LoadedConfig
from einklang.model import CanonicalValue, coerce, display, encode
from einklang.store import conflicts as ops
from einklang.store import schema as t
from einklang.store.rows import ConflictRow


class DecisionError(Exception):
    """The decision cannot be taken as asked; ``kind``: not_found, invalid, stale."""

    def __init__(self, message: str, kind: str, current: ConflictRow | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.current = current


@dataclass(frozen=True)
class Decision:
    """Take one system's value (``take``) or use a value a person entered (``value``)."""

    take: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if (self.take is None) == (self.value is None):
            raise DecisionError("give exactly one of: a system to take the value from, or a value", "invalid")


def values_fingerprint(values: Mapping[str, CanonicalValue]) -> str:
    """The systems' values of a conflict as one comparable text (what a form showed its user)."""
    import json

    return json.dumps({system: encode(value) for system, value in sorted(values.items())}, sort_keys=True)


def resolution_for(config: LoadedConfig, conflict: ConflictRow, decision: Decision, by: str) -> dict[str, Any]:
    """The resolution stored on the conflict; raises DecisionError for a system or value that does not fit."""
    if decision.take is not None:
        if decision.take not in conflict.values:
            raise DecisionError(
                f"{decision.take!r} is not part of this conflict (systems: {', '.join(conflict.values)})", "invalid"
            )
        resolution: dict[str, Any] = {"take": decision.take}
    else:
        spec = config.entity_spec(conflict.entity).field(conflict.field)
        try:
            checked = coerce(spec, decision.value)
        except ValueError as exc:
            raise DecisionError(f"{decision.value!r} is not a valid {spec.type.value}: {exc}", "invalid") from None
        resolution = {"value": decision.value, "canonical": display(checked)}
    resolution["by"] = by
    return resolution


def decide(
    conn: Connection,
    config: LoadedConfig,
    conflict_id: int,
    decision: Decision,
    by: str,
    expected_values: str | None = None,
) -> tuple[ConflictRow, dict[str, Any]]:
    """Store a decision on an open conflict (in the caller's transaction); the conflict as it was and
    the resolution. Raises DecisionError: not_found, invalid, or stale (no longer open, or its values
    differ from ``expected_values``)."""
    conflict = ops.get_conflict(conn, conflict_id)
    if conflict is None:
        raise DecisionError(f"no conflict {conflict_id}", "not_found")
    if conflict.status != "open":
        raise DecisionError(f"conflict {conflict_id} is already {conflict.status}", "stale", conflict)
    if expected_values is not None and expected_values != values_fingerprint(conflict.values):
        raise DecisionError(
            f"conflict {conflict_id} changed since the page was loaded: the systems now hold other values",
            "stale",
            conflict,
        )
    resolution = resolution_for(config, conflict, decision, by)
    ops.decide_conflict(conn, conflict_id, resolution)
    return conflict, resolution


def similar_open_conflicts(conn: Connection, conflict: ConflictRow, limit: int = 10_000) -> list[ConflictRow]:
    """Other open conflicts "like this one": same entity and field, and the same values in the
    same systems (the "apply to all conflicts like this" of the web app)."""
    wanted = values_fingerprint(conflict.values)
    query = (
        sa.select(t.conflicts)
        .where(
            t.conflicts.c.status == "open",
            t.conflicts.c.entity == conflict.entity,
            t.conflicts.c.field == conflict.field,
            t.conflicts.c.id != conflict.id,
        )
        .order_by(t.conflicts.c.id)
        .limit(limit)
    )
    others = (ConflictRow.from_row(row) for row in conn.execute(query))
    return [other for other in others if values_fingerprint(other.values) == wanted]

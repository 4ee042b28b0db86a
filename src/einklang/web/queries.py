"""What the web app and the API read from the state store: the overview, conflicts, runs.

Plain reads, one function per question, each taking a connection. Lists are paged (``limit``
and ``offset``) and every count runs on an index, so the overview and the conflict list stay
fast with a million linked records and ten thousand open conflicts (``bench/web_pages.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.config import LoadedConfig
from einklang.model import display
from einklang.store import schema as t
from einklang.store.health import load_health
from einklang.store.reports import RecordName, record_names
from einklang.store.rows import ConflictRow
from einklang.store.state import run_row, utcnow

PAGE_SIZE = 50
_RECENT_CYCLES = 200  # sync runs looked at for each system's last successful cycle


def keys_of(loaded: LoadedConfig) -> dict[str, tuple[str, ...]]:
    """entity -> its key fields (what names a record: a customer number)."""
    return {entity: loaded.entity_spec(entity).keys for entity in loaded.model.entities}


# ---------------------------------------------------------------------------- overview
def overview(conn: Connection, loaded: LoadedConfig, linked: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Per system: reachable, last successful cycle, outbox waiting, breaker; per entity: counts;
    the last cycles. ``linked``: the entities' linked records when counted elsewhere
    (:mod:`einklang.web.counts`); else counted here."""
    now = utcnow()
    health = load_health(conn)
    waiting = {
        str(row[0]): int(row[1])
        for row in conn.execute(
            sa.select(t.outbox.c.system, sa.func.count())
            .where(t.outbox.c.status == "pending")
            .group_by(t.outbox.c.system)
        )
    }
    cycles = [
        run_row(row._mapping)
        for row in conn.execute(
            sa.select(t.runs).where(t.runs.c.kind == "sync").order_by(t.runs.c.id.desc()).limit(_RECENT_CYCLES)
        )
    ]
    systems = []
    for system in loaded.model.systems:
        state = health.get(system)
        open_until = state.open_until if state and state.open_until and state.open_until > now else None
        last_success = _last_success(cycles, system)
        failing = state is not None and state.failures > 0
        systems.append(
            {
                "system": system,
                # as of the last contact: failing calls, else a cycle that reached it, else not known yet
                "reachable": False if failing else (True if last_success or state is not None else None),
                "last_error": state.last_error if state and failing else None,
                "last_success": last_success,
                "outbox_waiting": waiting.get(system, 0),
                "breaker_open_until": open_until.isoformat(timespec="seconds") if open_until else None,
            }
        )
    entities = [_entity_counts(conn, entity, linked) for entity in loaded.model.entities]
    return {"systems": systems, "entities": entities, "cycles": cycles[:10], "as_of": now.isoformat(timespec="seconds")}


def _last_success(cycles: Sequence[Mapping[str, Any]], system: str) -> str | None:
    """The newest successful cycle in which ``system`` was reachable."""
    for cycle in cycles:
        if cycle["status"] != "ok":
            continue
        entities = cycle.get("summary", {}).get("entities", [])
        if all(system not in (entity.get("unavailable") or {}) for entity in entities):
            return str(cycle["finished_at"] or cycle["started_at"])
    return None


def _entity_counts(conn: Connection, entity: str, linked: Mapping[str, int] | None) -> dict[str, Any]:
    def count(query: sa.Select[Any]) -> int:
        return int(conn.execute(query).scalar_one())

    return {
        "entity": entity,
        "linked": linked[entity]
        if linked is not None and entity in linked
        else count(
            sa.select(sa.func.count())
            .select_from(t.golden)
            .where(t.golden.c.entity == entity, t.golden.c.status == "active")
        ),
        "open_conflicts": count(
            sa.select(sa.func.count())
            .select_from(t.conflicts)
            .where(t.conflicts.c.status == "open", t.conflicts.c.entity == entity)
        ),
        "possible_duplicates": count(
            sa.select(sa.func.count())
            .select_from(t.review_rows.join(t.runs, t.runs.c.id == t.review_rows.c.run_id))
            .where(
                t.review_rows.c.entity == entity,
                t.review_rows.c.applied_at.is_(None),
                t.runs.c.status != "undone",
            )
        ),
        "isolated": count(
            sa.select(sa.func.count())
            .select_from(t.outbox)
            .where(t.outbox.c.status == "failed", t.outbox.c.entity == entity)
        ),
    }


# ---------------------------------------------------------------------------- conflicts
@dataclass(frozen=True)
class ConflictFilter:
    entity: str | None = None
    system: str | None = None
    field: str | None = None
    older_than_days: int | None = None
    status: str = "open"

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ConflictFilter:
        days = params.get("older_than_days", "").strip()
        return cls(
            entity=params.get("entity") or None,
            system=params.get("system") or None,
            field=params.get("field") or None,
            older_than_days=int(days) if days.isdigit() else None,
            status=params.get("status") or "open",
        )

    def as_params(self) -> dict[str, str]:
        params = {
            "entity": self.entity or "",
            "system": self.system or "",
            "field": self.field or "",
            "older_than_days": str(self.older_than_days) if self.older_than_days is not None else "",
        }
        return {key: value for key, value in params.items() if value}


def _conflict_query(selected: Any, where: ConflictFilter) -> Any:
    query = sa.select(selected).select_from(t.conflicts).where(t.conflicts.c.status == where.status)
    if where.entity:
        query = query.where(t.conflicts.c.entity == where.entity)
    if where.field:
        query = query.where(t.conflicts.c.field == where.field)
    if where.system:
        # the values are JSON {system: value}; a system's name appears there as a quoted key
        query = query.where(t.conflicts.c["values"].contains(json.dumps(where.system) + ":"))
    if where.older_than_days is not None:
        query = query.where(t.conflicts.c.created_at <= utcnow() - dt.timedelta(days=where.older_than_days))
    return query


def list_conflicts(
    conn: Connection, loaded: LoadedConfig, where: ConflictFilter, page: int = 1, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """One page of conflicts (oldest first) with the records' names, and the total."""
    total = int(conn.execute(_conflict_query(sa.func.count(), where)).scalar_one())
    page = max(1, page)
    rows = [
        ConflictRow.from_row(row)
        for row in conn.execute(
            _conflict_query(t.conflicts, where)
            .order_by(t.conflicts.c.id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    ]
    names = record_names(conn, (c.golden_id for c in rows), keys_of(loaded))
    return {
        "total": total,
        "page": page,
        "pages": max(1, -(-total // page_size)),
        "conflicts": [conflict_dict(c, names.get(c.golden_id)) for c in rows],
    }


def conflict_fields(conn: Connection) -> list[str]:
    """The fields that have open conflicts (the list's field filter)."""
    rows = conn.execute(
        sa.select(t.conflicts.c.field).where(t.conflicts.c.status == "open").group_by(t.conflicts.c.field)
    )
    return sorted(str(row[0]) for row in rows)


def conflict_dict(conflict: ConflictRow, name: RecordName | None) -> dict[str, Any]:
    from einklang.decide.conflicts import values_fingerprint

    return {
        "id": conflict.id,
        "entity": conflict.entity,
        "golden_id": conflict.golden_id,
        "record": name.as_dict() if name else {"label": conflict.golden_id, "keys": {}, "name": None, "ids": {}},
        "field": conflict.field,
        "base": display(conflict.base),
        "values": {system: display(value) for system, value in conflict.values.items()},
        "values_fingerprint": values_fingerprint(conflict.values),
        "status": conflict.status,
        "reason": conflict.reason,
        "resolution": conflict.resolution,
        "created_at": conflict.created_at.isoformat(timespec="seconds"),
        "resolved_at": conflict.resolved_at.isoformat(timespec="seconds") if conflict.resolved_at else None,
    }


def conflict_detail(conn: Connection, loaded: LoadedConfig, conflict_id: int) -> dict[str, Any] | None:
    """A conflict with its record's other fields (base and each system's last seen value) and the
    number of open conflicts like it."""
    from einklang.decide.conflicts import similar_open_conflicts
    from einklang.store import conflicts as ops
    from einklang.store.links import links_of_golden, load_golden

    conflict = ops.get_conflict(conn, conflict_id)
    if conflict is None:
        return None
    names = record_names(conn, [conflict.golden_id], keys_of(loaded))
    data = conflict_dict(conflict, names.get(conflict.golden_id))
    loaded_golden = load_golden(conn, conflict.golden_id)
    base = loaded_golden[0] if loaded_golden else {}
    linked = links_of_golden(conn, conflict.golden_id)
    held = {c.field for c in ops.held_conflicts(conn, conflict.golden_id).values()}
    context = []
    for name in loaded.entity_spec(conflict.entity).fields:
        if name == conflict.field or name in held:
            continue
        context.append(
            {
                "field": name,
                "base": display(base.get(name)),
                "values": {system: display((link.seen or {}).get(name)) for system, link in linked.items()},
            }
        )
    data["context"] = context
    data["systems"] = [s for s in loaded.systems_of(conflict.entity) if s in linked] or list(conflict.values)
    data["similar"] = len(similar_open_conflicts(conn, conflict)) if conflict.status == "open" else 0
    return data


# ---------------------------------------------------------------------------- runs
UNDOABLE_KINDS = ("import", "review")


def list_runs(conn: Connection, kinds: Sequence[str] | None = None, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    query = sa.select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)
    if kinds:
        query = query.where(t.runs.c.kind.in_(list(kinds)))
    runs = [run_row(row._mapping) for row in conn.execute(query)]
    for run in runs:
        run["undoable"] = run["kind"] in UNDOABLE_KINDS and run["status"] not in ("undone", "running", "dry-run")
    return runs


def sync_workers(conn: Connection) -> list[dict[str, Any]]:
    """Live sync workers sharing the store (``--worker``, docs/sync-workers.md) with their leases."""
    from einklang.store import leases

    now = utcnow()
    return [
        {
            "worker": f"{worker.host} pid {worker.pid}",
            "heartbeat_seconds": int((now - worker.heartbeat_at).total_seconds()),
            "cycles": worker.cycles,
            "leases": [f"{lease.label} ({lease.token})" for lease in worker.leases],
        }
        for worker in leases.list_workers(conn, recent_seconds=900)
        if worker.stopped_at is None
    ]

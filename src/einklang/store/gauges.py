"""Counts of what waits in the state store, read at once for ``/metrics`` and the service.

Read at scrape time rather than kept in memory, so that they are true after a restart and
include what other processes (an ``einklang import``, a decision in the web app) changed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.store import schema as t
from einklang.store.health import load_health
from einklang.store.rows import Health


@dataclass(frozen=True)
class StoreGauges:
    open_conflicts: dict[str, int]  # entity -> open conflicts
    outbox: dict[tuple[str, str], int]  # (system, status) -> entries; status pending or failed
    reviews_waiting: dict[str, int]  # entity -> review rows of imports not applied yet
    health: dict[str, Health]  # system -> circuit breaker state (systems never failing are absent)


def read_gauges(conn: Connection) -> StoreGauges:
    conflicts = conn.execute(
        sa.select(t.conflicts.c.entity, sa.func.count())
        .where(t.conflicts.c.status == "open")
        .group_by(t.conflicts.c.entity)
    )
    outbox = conn.execute(
        sa.select(t.outbox.c.system, t.outbox.c.status, sa.func.count())
        .where(t.outbox.c.status.in_(("pending", "failed")))
        .group_by(t.outbox.c.system, t.outbox.c.status)
    )
    reviews = conn.execute(
        sa.select(t.review_rows.c.entity, sa.func.count())
        .select_from(t.review_rows.join(t.runs, t.runs.c.id == t.review_rows.c.run_id))
        .where(t.review_rows.c.applied_at.is_(None), t.runs.c.status != "undone")
        .group_by(t.review_rows.c.entity)
    )
    return StoreGauges(
        open_conflicts={str(row[0]): int(row[1]) for row in conflicts},
        outbox={(str(row[0]), str(row[1])): int(row[2]) for row in outbox},
        reviews_waiting={str(row[0]): int(row[1]) for row in reviews},
        health=load_health(conn),
    )


def breaker_state(health: Health | None, now: dt.datetime) -> str:
    """closed (calls go through), open (no calls until its cooldown ends), half-open (the next call tests it)."""
    if health is None or not health.failures:
        return "closed"
    return "open" if health.open_until is not None and health.open_until > now else "half-open"


def last_sync_successes(
    conn: Connection, systems_of: Mapping[str, Sequence[str]], look_back: int = 200
) -> tuple[dict[str, dt.datetime], dict[str, dt.datetime]]:
    """(entity -> end, system -> end) of the newest sync runs that finished ``ok`` for each.

    ``systems_of``: entity -> its systems. A system counts as successful in a run that covered one
    of its entities unless the run's summary lists it as unavailable there.
    Quiet cycles write no run, so this is the last cycle that did work: what is known after a
    restart until the service's own first cycle.
    """
    by_entity: dict[str, dt.datetime] = {}
    by_system: dict[str, dt.datetime] = {}
    rows = conn.execute(
        sa.select(t.runs.c.finished_at, t.runs.c.summary)
        .where(t.runs.c.kind == "sync", t.runs.c.status == "ok", t.runs.c.finished_at.is_not(None))
        .order_by(t.runs.c.id.desc())
        .limit(look_back)
    )
    for finished_at, summary in rows:
        try:
            reports = json.loads(summary or "{}").get("entities") or []
        except (ValueError, AttributeError):
            continue
        for report in reports:
            entity = report.get("entity") if isinstance(report, dict) else None
            if not isinstance(entity, str) or entity not in systems_of:
                continue
            by_entity.setdefault(entity, finished_at)
            unavailable = report.get("unavailable") or {}
            for system in systems_of[entity]:
                if system not in unavailable:
                    by_system.setdefault(system, finished_at)
    return by_entity, by_system

"""Events people should hear of, and the marks that make each one reported once per channel.

An event is something waiting for a person: an open conflict, a possible duplicate of an
import not decided yet (a review row not applied), an isolated record (a write that failed for
good), or a system unreachable for longer than a threshold. Each has a stable key; a channel
(one mail recipient, the webhook) has been told of it when a mark with that key exists. Marks
are written after the digest was delivered, so a failed delivery is retried with the next one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.model import decode, display
from einklang.store import schema as t
from einklang.store.state import chunks

KINDS = ("conflict", "review", "isolated", "unreachable")


@dataclass(frozen=True)
class Event:
    key: str  # conflict:12, review:7:R3, isolated:40, unreachable:crm:2026-12-06T16:00:00
    kind: str  # one of KINDS
    since: dt.datetime
    entity: str | None = None
    system: str | None = None
    golden_id: str | None = None
    native_id: str | None = None
    subject: str = ""  # conflict: the field; review: the review row id; isolated: the write (update ...)
    detail: str = ""  # an error, or the incoming values of a review row
    values: Mapping[str, str] = field(default_factory=dict)  # conflict: system -> value as shown


def _unmarked(key: sa.ColumnElement[str], channel: str) -> sa.ColumnElement[bool]:
    marks = t.notification_marks
    return ~sa.exists().where(marks.c.event_key == key, marks.c.channel == channel)


def _text(key: str, column: sa.ColumnElement[int]) -> sa.ColumnElement[str]:
    return sa.literal(key, sa.String) + sa.cast(column, sa.String)


def new_events(conn: Connection, channel: str, now: dt.datetime, unreachable_after: dt.timedelta) -> list[Event]:
    """Every current event ``channel`` was not told of yet, oldest first within each kind."""
    return [
        *_conflicts(conn, channel),
        *_reviews(conn, channel),
        *_isolated(conn, channel),
        *_outages(conn, channel, now - unreachable_after),
    ]


def _conflicts(conn: Connection, channel: str) -> list[Event]:
    c = t.conflicts
    key = _text("conflict:", c.c.id)
    rows = conn.execute(
        sa.select(key, c.c.entity, c.c.golden_id, c.c.field, c.c["values"], c.c.created_at)
        .where(c.c.status == "open", _unmarked(key, channel))
        .order_by(c.c.id)
    )
    events = []
    for event_key, entity, golden_id, field_name, values, created_at in rows:
        shown = {system: display(decode(value)) for system, value in (json.loads(values or "{}")).items()}
        events.append(
            Event(event_key, "conflict", created_at, entity, None, golden_id, subject=field_name, values=shown)
        )
    return events


def _reviews(conn: Connection, channel: str) -> list[Event]:
    r = t.review_rows
    key = _text("review:", r.c.run_id) + sa.literal(":", sa.String) + r.c.review_id
    rows = conn.execute(
        sa.select(key, r.c.entity, r.c.system, r.c.golden_id, r.c.review_id, r.c.incoming, r.c.created_at, r.c.run_id)
        .select_from(r.join(t.runs, t.runs.c.id == r.c.run_id))
        .where(r.c.applied_at.is_(None), t.runs.c.status != "undone", _unmarked(key, channel))
        .order_by(r.c.run_id, r.c.created_at)
    )
    events = []
    for event_key, entity, system, golden_id, review_id, incoming, created_at, run_id in rows:
        values = json.loads(incoming or "{}")
        detail = ", ".join(str(value) for value in values.values() if value)
        events.append(
            Event(
                event_key,
                "review",
                created_at,
                entity,
                system,
                golden_id,
                subject=f"{review_id} (import #{run_id})",
                detail=detail,
            )
        )
    return events


def _isolated(conn: Connection, channel: str) -> list[Event]:
    o = t.outbox
    key = _text("isolated:", o.c.id)
    rows = conn.execute(
        sa.select(key, o.c.entity, o.c.system, o.c.golden_id, o.c.native_id, o.c.op, o.c.last_error, o.c.created_at)
        .where(o.c.status == "failed", _unmarked(key, channel))
        .order_by(o.c.id)
    )
    return [
        Event(event_key, "isolated", created_at, entity, system, golden_id, native_id, op, last_error or "")
        for event_key, entity, system, golden_id, native_id, op, last_error, created_at in rows
    ]


def _outages(conn: Connection, channel: str, down_before: dt.datetime) -> list[Event]:
    events = []
    for system, since, last_error in conn.execute(
        sa.select(t.system_outages.c.system, t.system_outages.c.down_since, t.system_outages.c.last_error)
        .where(t.system_outages.c.down_since <= down_before)
        .order_by(t.system_outages.c.system)
    ):
        key = f"unreachable:{system}:{since.isoformat()}"
        marked = conn.execute(
            sa.select(t.notification_marks.c.event_key).where(
                t.notification_marks.c.event_key == key, t.notification_marks.c.channel == channel
            )
        ).first()
        if marked is None:
            events.append(Event(key, "unreachable", since, system=system, detail=last_error or ""))
    return events


def refresh_outages(conn: Connection, now: dt.datetime) -> None:
    """Note when each system failing now was first seen failing; forget systems that are back.

    Read from the circuit breakers' state (``system_health``), which every process updates.
    """
    failing = {
        row.system: row for row in conn.execute(sa.select(t.system_health).where(t.system_health.c.failures > 0))
    }
    known = {row.system for row in conn.execute(sa.select(t.system_outages.c.system))}
    back = known - set(failing)
    if back:
        conn.execute(t.system_outages.delete().where(t.system_outages.c.system.in_(sorted(back))))
    for system, row in failing.items():
        if system in known:
            conn.execute(
                t.system_outages.update().where(t.system_outages.c.system == system).values(last_error=row.last_error)
            )
        else:  # the breaker's row holds its latest failure: the outage began then at the latest
            since = min(row.updated_at, now) if row.updated_at else now
            conn.execute(t.system_outages.insert().values(system=system, down_since=since, last_error=row.last_error))


def mark_sent(conn: Connection, channel: str, keys: Iterable[str], now: dt.datetime) -> None:
    rows = [{"event_key": key, "channel": channel, "sent_at": now} for key in keys]
    for chunk in chunks(rows):
        conn.execute(t.notification_marks.insert(), chunk)


def last_sent(conn: Connection, channel: str) -> dt.datetime | None:
    value = conn.execute(
        sa.select(sa.func.max(t.notification_marks.c.sent_at)).where(t.notification_marks.c.channel == channel)
    ).scalar()
    return value if isinstance(value, dt.datetime) else None

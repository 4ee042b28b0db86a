"""Leases for several sync workers sharing one PostgreSQL state store.

A worker (``einklang sync --every N --worker``) syncs only the entities it holds a lease on. A
lease has an expiry and a **fencing token**: the token grows by one each time the lease passes
to a new holder. Every state-store transaction a worker makes on behalf of an entity starts by
checking, under a row lock (``FOR SHARE``), that it still holds that lease with the token it was
given and that the lease has not expired (:class:`Fence`). A worker that paused past its lease
(a long GC pause, a frozen VM) therefore cannot commit anything for the entity once another
worker took it over: its next transaction fails with :class:`LeaseLost` and rolls back. A taker
must ``UPDATE`` the lease row, which waits for the row lock of a fenced transaction still running,
so a takeover never lands in the middle of another worker's transaction. Writes to the systems
themselves stay safe as before: each goes through the outbox (committed under the fence first)
and is a conditional write against the version einklang last saw.

With ``--partitions P`` a lease covers one of P partitions of an entity's golden records
(:mod:`einklang.sync.partitions`) instead of the whole entity, named ``entity:<entity>#<k>/<P>``;
the fence is the same. Workers cutting one entity differently (whole, or another P) never hold
leases on it at the same time (:func:`acquire` refuses while the other layout is live).

The single writer lock (:mod:`einklang.store.lock`) stays the default and the only mode on
SQLite. Commands that need the whole store (``load``, ``import``, ``review apply``, ``undo``)
take the writer lock; they are refused while live worker leases exist, and workers take no
lease while such a command holds the writer lock. Both checks run under one PostgreSQL advisory
lock so the two can never both succeed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from einklang.store import schema as t
from einklang.store.state import utcnow

# one advisory lock key serialises "take the writer lock" against "take a worker lease"
_ADVISORY_KEY = 0x65696E6B  # "eink"
WORKER_PURPOSE = "sync worker"


class LeaseLost(Exception):
    """This worker no longer holds the lease it wrote under; the transaction was rolled back."""

    def __init__(self, name: str, token: int) -> None:
        super().__init__(f"lease {name} (token {token}) was lost: another worker holds it now or it expired")
        self.name = name
        self.token = token


@dataclass(frozen=True)
class Lease:
    name: str  # entity:<entity>, or entity:<entity>#<partition>/<partitions> (lease_name)
    holder: str
    token: int
    expires_at: dt.datetime

    @property
    def entity(self) -> str:
        return self.name.partition(":")[2].partition("#")[0]

    @property
    def partition(self) -> tuple[int, int] | None:
        """(partition, partitions) of a lease on part of an entity's golden records; None: all of them."""
        return parse_partition(self.name)

    @property
    def part(self) -> str:
        """``1/4``: partition 1 of 4 of the entity's golden records; ``all`` for a whole entity."""
        part = self.partition
        return "all" if part is None else f"{part[0]}/{part[1]}"

    @property
    def label(self) -> str:
        """``company`` or ``company 1/4``: what ``einklang status`` and the web app show."""
        return self.entity if self.partition is None else f"{self.entity} {self.part}"


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None
    cycles: int
    last_cycle_at: dt.datetime | None
    leases: tuple[Lease, ...]

    def alive(self, now: dt.datetime, lease_seconds: float) -> bool:
        return self.stopped_at is None and (now - self.heartbeat_at).total_seconds() <= lease_seconds


def lease_name(entity: str, partition: int = 0, partitions: int = 1) -> str:
    """The lease on a whole entity (``partitions`` 1), or on one partition of its golden records."""
    if partitions <= 1:
        return f"entity:{entity}"
    return f"entity:{entity}#{partition}/{partitions}"


def parse_partition(name: str) -> tuple[int, int] | None:
    _, sep, part = name.partition("#")
    if not sep:
        return None
    index, _, count = part.partition("/")
    return int(index), int(count)


def _layout(name: str) -> str:
    """``entity:company`` -> ``entity:company``; ``entity:company#1/4`` -> ``entity:company#/4``."""
    prefix, sep, part = name.partition("#")
    return prefix + sep + part.partition("/")[1] + part.partition("/")[2]


def _other_layout_live(conn: Connection, name: str, now: dt.datetime) -> bool:
    """Does a live lease cut the same entity differently (whole, or another number of partitions)?

    Workers started with different ``--partitions`` would otherwise both work on the same golden
    records; the one that comes second waits until the others' leases are released or expire."""
    entity_name = name.partition("#")[0]
    rows = conn.execute(
        sa.select(t.worker_leases.c.name).where(
            sa.or_(
                t.worker_leases.c.name == entity_name,
                t.worker_leases.c.name.startswith(entity_name + "#", autoescape=True),
            ),
            t.worker_leases.c.holder.is_not(None),
            t.worker_leases.c.expires_at > now,
        )
    ).scalars()
    return any(_layout(other) != _layout(name) for other in rows)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def serialize_writers(conn: Connection) -> None:
    """Within this transaction, be the only one deciding between the writer lock and leases."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})


def live_leases(conn: Connection, now: dt.datetime | None = None) -> list[Lease]:
    """Leases held and not expired: while any exists, a whole-store writer must wait."""
    now = now or utcnow()
    rows = conn.execute(
        sa.select(t.worker_leases).where(t.worker_leases.c.holder.is_not(None), t.worker_leases.c.expires_at > now)
    ).all()
    return [Lease(row.name, str(row.holder), int(row.token), row.expires_at) for row in rows]


def _writer_busy(conn: Connection, now: dt.datetime) -> bool:
    """Is the writer lock held by a command other than a worker (load, import, a plain sync)?"""
    row = conn.execute(sa.select(t.locks).where(t.locks.c.name == "writer")).first()
    if row is None:
        return False
    lease = int(row.lease_seconds or 600)
    return bool((now - row.heartbeat_at).total_seconds() <= lease)


def acquire(engine: Engine, name: str, holder: str, lease_seconds: float) -> Lease | None:
    """Take the lease if it is free, expired or already ours; None when another worker holds it
    or a whole-store writer is running."""
    now = utcnow()
    expires = now + dt.timedelta(seconds=lease_seconds)
    with engine.begin() as conn:
        serialize_writers(conn)
        if _writer_busy(conn, now) or _other_layout_live(conn, name, now):
            return None
        row = conn.execute(
            sa.select(t.worker_leases).where(t.worker_leases.c.name == name).with_for_update(skip_locked=True)
        ).first()
        if row is None:
            exists = conn.execute(sa.select(t.worker_leases.c.name).where(t.worker_leases.c.name == name)).first()
            if exists is not None:
                return None  # locked by a fenced transaction of its holder right now
            conn.execute(
                t.worker_leases.insert().values(
                    name=name, holder=holder, token=1, acquired_at=now, heartbeat_at=now, expires_at=expires
                )
            )
            return Lease(name, holder, 1, expires)
        if row.holder == holder and row.expires_at > now:
            token = int(row.token)
        elif row.holder is None or row.expires_at <= now:
            token = int(row.token) + 1  # a new holder: everything the old one still tries is fenced off
        else:
            return None
        conn.execute(
            t.worker_leases.update()
            .where(t.worker_leases.c.name == name)
            .values(holder=holder, token=token, acquired_at=now, heartbeat_at=now, expires_at=expires)
        )
        return Lease(name, holder, token, expires)


def renew(engine: Engine, lease: Lease, lease_seconds: float) -> Lease | None:
    """Extend the lease; None if it passed to another holder meanwhile."""
    now = utcnow()
    expires = now + dt.timedelta(seconds=lease_seconds)
    with engine.begin() as conn:
        result = conn.execute(
            t.worker_leases.update()
            .where(
                t.worker_leases.c.name == lease.name,
                t.worker_leases.c.holder == lease.holder,
                t.worker_leases.c.token == lease.token,
            )
            .values(heartbeat_at=now, expires_at=expires)
        )
    return Lease(lease.name, lease.holder, lease.token, expires) if result.rowcount == 1 else None


def release(engine: Engine, lease: Lease) -> None:
    with engine.begin() as conn:
        conn.execute(
            t.worker_leases.update()
            .where(
                t.worker_leases.c.name == lease.name,
                t.worker_leases.c.holder == lease.holder,
                t.worker_leases.c.token == lease.token,
            )
            .values(holder=None, expires_at=utcnow())
        )


@dataclass(frozen=True)
class Fence:
    """The check at the start of each fenced transaction (see the module's docstring)."""

    lease: Lease

    def check(self, conn: Connection) -> None:
        query = sa.select(t.worker_leases.c.token).where(
            t.worker_leases.c.name == self.lease.name,
            t.worker_leases.c.holder == self.lease.holder,
            t.worker_leases.c.token == self.lease.token,
            t.worker_leases.c.expires_at > utcnow(),
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True)
        if conn.execute(query).first() is None:
            raise LeaseLost(self.lease.name, self.lease.token)


def fair_share(units: int, live_workers: int) -> int:
    """How many leases (entities or partitions) one worker should hold so that the work spreads
    over all workers."""
    return max(1, math.ceil(units / max(1, live_workers)))


# ------------------------------------------------------------------------------------ workers
def register_worker(engine: Engine, worker_id: str) -> None:
    now = utcnow()
    host, _, rest = worker_id.partition(":")
    with engine.begin() as conn:
        conn.execute(
            t.sync_workers.insert().values(
                id=worker_id,
                host=host,
                pid=int(rest.partition(":")[0] or 0),
                started_at=now,
                heartbeat_at=now,
                cycles=0,
                entities="[]",
            )
        )


def worker_heartbeat(engine: Engine, worker_id: str, entities: Sequence[str], *, cycles: int = 0) -> None:
    now = utcnow()
    values: dict[str, object] = {"heartbeat_at": now, "entities": json.dumps(sorted(entities))}
    if cycles:
        values["cycles"] = t.sync_workers.c.cycles + cycles
        values["last_cycle_at"] = now
    with engine.begin() as conn:
        conn.execute(t.sync_workers.update().where(t.sync_workers.c.id == worker_id).values(**values))


def stop_worker(engine: Engine, worker_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(t.sync_workers.update().where(t.sync_workers.c.id == worker_id).values(stopped_at=utcnow()))


def count_live_workers(engine: Engine, lease_seconds: float) -> int:
    since = utcnow() - dt.timedelta(seconds=lease_seconds)
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(t.sync_workers)
                .where(t.sync_workers.c.stopped_at.is_(None), t.sync_workers.c.heartbeat_at > since)
            ).scalar_one()
        )


def list_workers(conn: Connection, *, recent_seconds: float = 3600) -> list[WorkerRow]:
    """Workers seen in the last hour, with the leases each holds now (for ``einklang status``)."""
    since = utcnow() - dt.timedelta(seconds=recent_seconds)
    leases: dict[str, list[Lease]] = {}
    for lease in live_leases(conn):
        leases.setdefault(lease.holder, []).append(lease)
    rows = conn.execute(
        sa.select(t.sync_workers).where(t.sync_workers.c.heartbeat_at > since).order_by(t.sync_workers.c.started_at)
    ).all()
    return [
        WorkerRow(
            str(row.id),
            str(row.host),
            int(row.pid),
            row.started_at,
            row.heartbeat_at,
            row.stopped_at,
            int(row.cycles),
            row.last_cycle_at,
            tuple(sorted(leases.get(str(row.id), []), key=lambda lease: lease.name)),
        )
        for row in rows
    ]

"""The writer lock: one einklang process writes to a state store at a time.

Every command that writes — ``sync``, ``load``, ``relink``, ``import``, ``review apply``,
``undo`` — holds it, so that two of them never plan against the same links and outbox. A
holder keeps a heartbeat from a background thread while it holds the lock. It is taken over
only when the holder is gone: on the same host when its process no longer exists (process id
and start time, so a reused id does not count), on another host when it has been silent for
longer than its lease (four heartbeats, at least a minute).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from einklang.store import leases
from einklang.store import schema as t
from einklang.store.state import StateStore, utcnow

WRITER_LOCK = "writer"
HEARTBEAT_SECONDS = 20.0


@dataclass(frozen=True)
class LockHolder:
    holder: str  # host:pid:process start:token
    purpose: str
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime
    lease_seconds: int

    @property
    def host(self) -> str:
        return self.holder.split(":", 1)[0]

    @property
    def pid(self) -> str:
        parts = self.holder.split(":")
        return parts[1] if len(parts) > 1 else "?"

    def describe(self, now: dt.datetime) -> str:
        silent = int((now - self.heartbeat_at).total_seconds())
        return (
            f"{self.purpose or 'a command'} (process {self.pid} on {self.host}, since "
            f"{self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat {silent} s ago)"
        )


class LockBusy(Exception):
    """Another live einklang process holds the writer lock."""

    def __init__(self, holder: LockHolder) -> None:
        super().__init__(
            f"another einklang process is writing to this state store: {holder.describe(utcnow())}; "
            "wait until it has finished (a `sync --every` runs until stopped)"
        )
        self.holder = holder


@contextmanager
def writer_lock(
    store: StateStore, purpose: str, *, heartbeat_every: float = HEARTBEAT_SECONDS, name: str = WRITER_LOCK
) -> Iterator[LockHolder]:
    """Hold the lock for the block; raises :class:`LockBusy` if a live process holds it."""
    lease = max(60, int(heartbeat_every * 4))
    holder = f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}:{uuid.uuid4().hex[:8]}"
    held = _acquire(store, name, holder, purpose, lease)
    stop = threading.Event()
    beat = threading.Thread(
        target=_keep_alive, args=(store, name, holder, heartbeat_every, stop), name=f"einklang-{name}-lock", daemon=True
    )
    beat.start()
    try:
        yield held
    finally:
        stop.set()
        beat.join(timeout=5)
        with store.transaction() as conn:
            conn.execute(t.locks.delete().where(t.locks.c.name == name, t.locks.c.holder == holder))


def current_holder(store: StateStore, name: str = WRITER_LOCK) -> LockHolder | None:
    with store.read() as conn:
        row = conn.execute(sa.select(t.locks).where(t.locks.c.name == name)).first()
    return _holder(row) if row is not None else None


def _holder(row: sa.Row[tuple[object, ...]]) -> LockHolder:
    return LockHolder(
        str(row.holder), str(row.purpose or ""), row.acquired_at, row.heartbeat_at, int(row.lease_seconds or 600)
    )


def _acquire(store: StateStore, name: str, holder: str, purpose: str, lease: int) -> LockHolder:
    now = utcnow()
    with store.transaction() as conn:
        if name == WRITER_LOCK:
            # sync workers (store/leases.py) and a whole-store writer exclude each other
            leases.serialize_writers(conn)
            held = leases.live_leases(conn, now)
            if held:
                raise LockBusy(_workers_holder(held))
        row = conn.execute(sa.select(t.locks).where(t.locks.c.name == name)).first()
        if row is not None:
            current = _holder(row)
            if not _gone(current, now):
                raise LockBusy(current)
            conn.execute(t.locks.delete().where(t.locks.c.name == name, t.locks.c.holder == current.holder))
        try:
            conn.execute(
                t.locks.insert().values(
                    name=name, holder=holder, purpose=purpose, acquired_at=now, heartbeat_at=now, lease_seconds=lease
                )
            )
        except sa.exc.IntegrityError:  # another process took it between our read and insert
            row = conn.execute(sa.select(t.locks).where(t.locks.c.name == name)).first()
            if row is None:
                raise
            raise LockBusy(_holder(row)) from None
    return LockHolder(holder, purpose, now, now, lease)


def _workers_holder(held: list[leases.Lease]) -> LockHolder:
    """The sync workers holding leases, described as the lock's holder for :class:`LockBusy`."""
    first = min(held, key=lambda lease: lease.expires_at)
    workers = sorted({lease.holder for lease in held})
    purpose = f"{len(workers)} sync worker(s) leasing {', '.join(sorted(lease.label for lease in held))}"
    return LockHolder(workers[0], purpose, first.expires_at, utcnow(), 0)


def _keep_alive(store: StateStore, name: str, holder: str, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            with store.transaction() as conn:
                conn.execute(
                    t.locks.update()
                    .where(t.locks.c.name == name, t.locks.c.holder == holder)
                    .values(heartbeat_at=utcnow())
                )
        except sa.exc.OperationalError:
            continue  # a busy database: the next beat tries again, the lease allows several misses


def _gone(holder: LockHolder, now: dt.datetime) -> bool:
    host, _, rest = holder.holder.partition(":")
    pid_text, _, rest = rest.partition(":")
    started = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        # this host can tell for sure: the process is gone, or its id now belongs to another
        return not _process_exists(int(pid_text)) or (
            started not in ("", "?") and started != _process_start(int(pid_text))
        )
    return (now - holder.heartbeat_at).total_seconds() > holder.lease_seconds


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "?" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    # the command name (field 2) may hold spaces and parentheses: count fields after its last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else "?"

"""Captured changes, read cursors and snapshot hashes: where reading each system stands.

A page of changes and the cursor after it are stored in one transaction, so a crash loses
nothing and reading again only repeats work.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.connectors.base import SnapshotStore
from einklang.model import load_record, record_json
from einklang.sql_bulk import driver_value, insert_rows
from einklang.store import schema as t
from einklang.store.rows import ChangeRow, NewChange
from einklang.store.state import StateStore, chunks, utcnow

# ------------------------------------------------------------------------------ changes


def insert_changes(conn: Connection, run_id: int | None, entity: str, changes: Sequence[NewChange]) -> None:
    if not changes:
        return
    now = driver_value(conn, t.changes.c.captured_at, utcnow())
    insert_rows(
        conn,
        t.changes,
        ("run_id", "system", "entity", "native_id", "kind", "version", "record", "source_modified", "captured_at"),
        [
            (
                run_id,
                c.system,
                entity,
                c.native_id,
                c.kind,
                c.version,
                record_json(c.record) if c.record is not None else None,
                c.source_modified,
                now,
            )
            for c in changes
        ],
    )


def pending_changes(
    conn: Connection, entity: str, after_id: int, limit: int, include_deletes: bool = True
) -> list[ChangeRow]:
    query = (
        sa.select(t.changes)
        .where(
            t.changes.c.entity == entity,
            t.changes.c.processed_at.is_(None),
            t.changes.c.id > after_id,
        )
        .order_by(t.changes.c.id)
        .limit(limit)
    )
    if not include_deletes:
        query = query.where(t.changes.c.kind != "delete")
    query = query.where(t.changes.c.kind != HELD)  # held records wait for their reference, unmerged
    return [
        ChangeRow(
            row.id,
            row.system,
            row.native_id,
            row.kind,
            row.version,
            load_record(row.record) if row.record else None,
            row.source_modified,
        )
        for row in conn.execute(query).all()
    ]


def latest_pending_records(
    conn: Connection, system: str, entity: str, native_ids: Sequence[str]
) -> dict[str, tuple[str | None, str]]:
    """(version, record as stored JSON) of each record's newest change not merged yet, by native id.

    Several sync workers (``--partitions``): the capturing worker reads a record again (the
    cursor's overlap) before another worker merged it; the same state is not stored twice."""
    latest: dict[str, tuple[int, str | None, str]] = {}
    for chunk in chunks(native_ids):
        rows = conn.execute(
            sa.select(
                t.changes.c.id, t.changes.c.native_id, t.changes.c.kind, t.changes.c.version, t.changes.c.record
            ).where(
                t.changes.c.system == system,
                t.changes.c.entity == entity,
                t.changes.c.native_id.in_(chunk),
                t.changes.c.processed_at.is_(None),
            )
        )
        for row in rows:
            if row.native_id not in latest or row.id > latest[row.native_id][0]:
                latest[row.native_id] = (row.id, row.version, row.record if row.kind == "upsert" and row.record else "")
    return {native_id: (version, record) for native_id, (_, version, record) in latest.items() if record}


def count_pending_deletes(conn: Connection, entity: str) -> int:
    """Golden records that pending deletions would remove (one record deleted in two systems is one)."""
    joined = t.changes.join(
        t.links,
        sa.and_(
            t.links.c.system == t.changes.c.system,
            t.links.c.entity == t.changes.c.entity,
            t.links.c.native_id == t.changes.c.native_id,
        ),
    )
    return int(
        conn.execute(
            sa.select(sa.func.count(sa.distinct(t.links.c.golden_id)))
            .select_from(joined)
            .where(
                t.changes.c.entity == entity,
                t.changes.c.processed_at.is_(None),
                t.changes.c.kind == "delete",
            )
        ).scalar_one()
    )


HELD = "held"  # a new record whose reference points nowhere yet (docs/references.md)


def held_changes(conn: Connection, system: str, entity: str) -> dict[str, int]:
    """Records of ``system`` held for a reference that pointed nowhere: native id -> change id."""
    rows = conn.execute(
        sa.select(t.changes.c.native_id, t.changes.c.id).where(
            t.changes.c.system == system,
            t.changes.c.entity == entity,
            t.changes.c.kind == HELD,
            t.changes.c.processed_at.is_(None),
        )
    )
    return {row.native_id: row.id for row in rows}


def mark_changes_processed(conn: Connection, ids: Sequence[int]) -> None:
    now = utcnow()
    for chunk in chunks(ids):
        conn.execute(t.changes.update().where(t.changes.c.id.in_(chunk)).values(processed_at=now))


def purge_processed_changes(conn: Connection, older_than: dt.timedelta) -> int:
    """Forget captured changes that were merged long ago (the audit log keeps what was written)."""
    cutoff = utcnow() - older_than
    result = conn.execute(
        t.changes.delete().where(t.changes.c.processed_at.is_not(None), t.changes.c.processed_at < cutoff)
    )
    return int(result.rowcount or 0)


# ------------------------------------------------------------------------------ cursors


def get_cursor(conn: Connection, system: str, entity: str) -> Any:
    """Where reading ``system``'s changes of ``entity`` resumes (None: from the beginning)."""
    value = conn.execute(
        sa.select(t.cursors.c.value).where(t.cursors.c.system == system, t.cursors.c.entity == entity)
    ).scalar_one_or_none()
    return json.loads(value) if value is not None else None


def has_cursor(conn: Connection, system: str, entity: str) -> bool:
    query = sa.select(t.cursors.c.system).where(t.cursors.c.system == system, t.cursors.c.entity == entity)
    return conn.execute(query).first() is not None


def set_cursor(conn: Connection, system: str, entity: str, value: Any) -> None:
    encoded = json.dumps(value, default=str)
    updated = conn.execute(
        t.cursors.update()
        .where(t.cursors.c.system == system, t.cursors.c.entity == entity)
        .values(value=encoded, updated_at=utcnow())
    )
    if updated.rowcount == 0:
        conn.execute(t.cursors.insert().values(system=system, entity=entity, value=encoded, updated_at=utcnow()))


# ------------------------------------------------------------------------------ snapshots


def save_snapshot(
    conn: Connection, system: str, entity: str, hashes: Mapping[str, str], deleted: Sequence[str] = ()
) -> None:
    """Remember the hashes of a page of a full scan (and forget records that are gone)."""
    where = (t.snapshots.c.system == system, t.snapshots.c.entity == entity)
    for chunk in chunks(list(hashes)):
        conn.execute(t.snapshots.delete().where(*where, t.snapshots.c.native_id.in_(chunk)))
    if hashes:
        conn.execute(
            t.snapshots.insert(),
            [{"system": system, "entity": entity, "native_id": nid, "hash": h} for nid, h in hashes.items()],
        )
    for chunk in chunks(deleted):
        conn.execute(t.snapshots.delete().where(*where, t.snapshots.c.native_id.in_(chunk)))


class DbSnapshotStore(SnapshotStore):
    """The hashes of a system's previous full scan, for connectors that detect changes by snapshot."""

    def __init__(self, store: StateStore, system: str, entity: str) -> None:
        self.store, self.system, self.entity = store, system, entity

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        with self.store.read() as conn:
            for chunk in chunks(ids):
                rows = conn.execute(
                    sa.select(t.snapshots.c.native_id, t.snapshots.c.hash).where(
                        t.snapshots.c.system == self.system,
                        t.snapshots.c.entity == self.entity,
                        t.snapshots.c.native_id.in_(chunk),
                    )
                )
                result.update((row.native_id, row.hash) for row in rows)
        return result

    def known_ids(self) -> Iterator[str]:
        last = ""
        while True:
            with self.store.read() as conn:
                rows = conn.execute(
                    sa.select(t.snapshots.c.native_id)
                    .where(
                        t.snapshots.c.system == self.system,
                        t.snapshots.c.entity == self.entity,
                        t.snapshots.c.native_id > last,
                    )
                    .order_by(t.snapshots.c.native_id)
                    .limit(5000)
                ).all()
            if not rows:
                return
            for row in rows:
                yield row.native_id
            last = rows[-1].native_id

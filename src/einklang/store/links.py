"""Golden records and links: einklang's id for a real-world thing, and its id in each system.

Every function takes the connection of the caller's transaction, so that one step of a run
(a golden record, its links, its outbox entries, its audit) is written all at once or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.model import (
    CanonicalRecord,
    CanonicalValue,
    load_record,
    record_hash,
    record_json,
    record_json_and_hash,
)
from einklang.sql_bulk import driver_value, insert_rows
from einklang.store import schema as t
from einklang.store.bulk import update_rows
from einklang.store.ids import new_golden_ids
from einklang.store.rows import Link
from einklang.store.state import StateStore, chunks, utcnow

# ------------------------------------------------------------------------------ golden records


def insert_golden(conn: Connection, entity: str, records: Sequence[CanonicalRecord]) -> list[str]:
    """New golden records with these bases; returns their ids (UUIDv7, in order)."""
    ids = new_golden_ids(len(records))
    insert_golden_rows(
        conn, entity, [(gid, record_json(rec), record_hash(rec)) for gid, rec in zip(ids, records, strict=True)]
    )
    return ids


def insert_golden_rows(conn: Connection, entity: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """rows: (golden_id, base as ``record_json``, ``record_hash`` of the base), for bulk paths."""
    now = driver_value(conn, t.golden.c.created_at, utcnow())
    insert_rows(
        conn,
        t.golden,
        ("id", "entity", "base", "base_hash", "status", "created_at", "updated_at"),
        [(gid, entity, base, base_hash, "active", now, now) for gid, base, base_hash in rows],
    )


def load_golden(conn: Connection, golden_id: str, *, lock: bool = False) -> tuple[CanonicalRecord, str] | None:
    """(base, status) of a golden record, or None if there is no such record.

    ``lock``: hold the golden row (``FOR UPDATE`` on PostgreSQL) until the transaction ends, so
    that two sync workers merging the same golden record take turns (docs/sync-workers.md)."""
    query = sa.select(t.golden.c.base, t.golden.c.status).where(t.golden.c.id == golden_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        return None
    return load_record(row.base), row.status


def load_goldens(
    conn: Connection, golden_ids: Sequence[str], *, lock: bool = False
) -> dict[str, tuple[CanonicalRecord, str]]:
    """golden id -> (base, status), for many records at once; unknown ids are absent.

    ``lock``: as :func:`load_golden`, for the whole page; the rows are locked in id order, so
    two workers locking overlapping pages cannot deadlock."""
    found: dict[str, tuple[CanonicalRecord, str]] = {}
    for chunk in chunks(sorted(set(golden_ids)) if lock else golden_ids):
        query = sa.select(t.golden.c.id, t.golden.c.base, t.golden.c.status).where(t.golden.c.id.in_(chunk))
        rows = conn.execute(query.order_by(t.golden.c.id).with_for_update() if lock else query)
        found.update((row.id, (load_record(row.base), row.status)) for row in rows.all())
    return found


def golden_entity_status(conn: Connection, golden_id: str) -> tuple[str, str] | None:
    """(entity, status) of a golden record, or None if there is no such record."""
    row = conn.execute(sa.select(t.golden.c.entity, t.golden.c.status).where(t.golden.c.id == golden_id)).first()
    return (row.entity, row.status) if row is not None else None


def golden_bases_unlinked_in(conn: Connection, entity: str, system: str) -> dict[str, CanonicalRecord]:
    """Active golden records of ``entity`` with no link in ``system``: what a new record there may be."""
    linked_here = sa.select(t.links.c.golden_id).where(t.links.c.system == system, t.links.c.entity == entity)
    rows = conn.execute(
        sa.select(t.golden.c.id, t.golden.c.base).where(
            t.golden.c.entity == entity, t.golden.c.status == "active", t.golden.c.id.not_in(linked_here)
        )
    )
    return {row.id: load_record(row.base) for row in rows}


def save_golden(conn: Connection, golden_id: str, base: CanonicalRecord, status: str | None = None) -> None:
    values: dict[str, Any] = {"base": record_json(base), "base_hash": record_hash(base), "updated_at": utcnow()}
    if status is not None:
        values["status"] = status
    conn.execute(t.golden.update().where(t.golden.c.id == golden_id).values(**values))


def save_goldens(conn: Connection, bases: Sequence[tuple[str, CanonicalRecord]]) -> None:
    """New bases of many golden records: (golden id, base); one bulk statement."""
    now = utcnow()
    rows = []
    for golden_id, base in bases:
        text, digest = record_json_and_hash(base)
        rows.append((golden_id, text, digest, now))
    update_rows(conn, t.golden, ("id",), ("base", "base_hash", "updated_at"), rows)


def set_golden_status(conn: Connection, golden_id: str, status: str) -> None:
    conn.execute(t.golden.update().where(t.golden.c.id == golden_id).values(status=status, updated_at=utcnow()))


def has_golden(conn: Connection, entity: str) -> bool:
    """Whether the store knows any golden record of ``entity`` (active or not)."""
    return conn.execute(sa.select(t.golden.c.id).where(t.golden.c.entity == entity).limit(1)).first() is not None


def count_golden(conn: Connection, entity: str) -> int:
    """Active golden records of ``entity``."""
    query = sa.select(sa.func.count()).select_from(t.golden)
    return int(conn.execute(query.where(t.golden.c.entity == entity, t.golden.c.status == "active")).scalar_one())


# ------------------------------------------------------------------------------ links


def links_by_native(conn: Connection, system: str, entity: str, native_ids: Sequence[str]) -> dict[str, Link]:
    found: dict[str, Link] = {}
    for chunk in chunks(native_ids):
        rows = conn.execute(
            sa.select(t.links).where(
                t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id.in_(chunk)
            )
        )
        found.update((row.native_id, Link.from_row(row)) for row in rows.all())
    return found


def link_hashes(conn: Connection, system: str, entity: str, native_ids: Sequence[str]) -> dict[str, str | None]:
    """Only what echo detection needs: native id -> record hash of linked records."""
    found: dict[str, str | None] = {}
    for chunk in chunks(native_ids):
        rows = conn.execute(
            sa.select(t.links.c.native_id, t.links.c.record_hash).where(
                t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id.in_(chunk)
            )
        )
        found.update((row.native_id, row.record_hash) for row in rows.all())
    return found


def links_of_golden(conn: Connection, golden_id: str) -> dict[str, Link]:
    """system -> link of one golden record."""
    return links_of_goldens(conn, [golden_id]).get(golden_id, {})


def links_of_goldens(conn: Connection, golden_ids: Sequence[str]) -> dict[str, dict[str, Link]]:
    """golden id -> system -> link."""
    result: dict[str, dict[str, Link]] = {}
    for chunk in chunks(golden_ids):
        for row in conn.execute(sa.select(t.links).where(t.links.c.golden_id.in_(chunk))).all():
            result.setdefault(row.golden_id, {})[row.system] = Link.from_row(row)
    return result


def insert_link(
    conn: Connection,
    entity: str,
    system: str,
    golden_id: str,
    native_id: str,
    version: str | None,
    seen: CanonicalRecord,
) -> None:
    """Link one record, remembering what it holds (``seen``) to measure its next changes against."""
    now = utcnow()
    conn.execute(
        t.links.insert().values(
            golden_id=golden_id,
            entity=entity,
            system=system,
            native_id=native_id,
            version=version,
            record_hash=record_hash(seen),
            seen=record_json(seen),
            tolerated=None,
            created_at=now,
            updated_at=now,
        )
    )


def insert_links(
    conn: Connection, entity: str, system: str, rows: Sequence[tuple[str, str, str | None, str | None]]
) -> None:
    """Link many records at once by hash only, for bulk paths. rows: (golden_id, native_id, version, record_hash).

    Without ``seen`` the sync measures the record's next change against the golden base.
    """
    now = driver_value(conn, t.links.c.created_at, utcnow())
    insert_rows(
        conn,
        t.links,
        ("golden_id", "entity", "system", "native_id", "version", "record_hash", "created_at", "updated_at"),
        [(gid, entity, system, nid, version, rhash, now, now) for gid, nid, version, rhash in rows],
    )


def save_link(
    conn: Connection,
    entity: str,
    system: str,
    native_id: str,
    version: str | None,
    seen: CanonicalRecord,
    tolerated: dict[str, CanonicalValue] | None = None,
) -> None:
    """The record's new state after a read or a write: version, what it holds, what is tolerated there."""
    conn.execute(
        t.links.update()
        .where(
            t.links.c.system == system,
            t.links.c.entity == entity,
            t.links.c.native_id == native_id,
        )
        .values(
            version=version,
            record_hash=record_hash(seen),
            seen=record_json(seen),
            tolerated=record_json(tolerated) if tolerated else None,
            updated_at=utcnow(),
        )
    )


# (system, native id, version, seen, tolerated): a link's new state, for :func:`save_links`
LinkState = tuple[str, str, str | None, CanonicalRecord, dict[str, CanonicalValue] | None]


def save_links(conn: Connection, entity: str, states: Sequence[LinkState]) -> None:
    """:func:`save_link` for many records at once (one bulk statement)."""
    now = utcnow()
    rows = []
    for system, native_id, version, seen, tolerated in states:
        seen_json, seen_hash = record_json_and_hash(seen)
        tolerated_json = record_json(tolerated) if tolerated else None
        rows.append((system, entity, native_id, version, seen_hash, seen_json, tolerated_json, now))
    update_rows(
        conn,
        t.links,
        ("system", "entity", "native_id"),
        ("version", "record_hash", "seen", "tolerated", "updated_at"),
        rows,
    )


def delete_link(conn: Connection, system: str, entity: str, native_id: str) -> None:
    conn.execute(
        t.links.delete().where(t.links.c.system == system, t.links.c.entity == entity, t.links.c.native_id == native_id)
    )


def count_links(conn: Connection, system: str, entity: str) -> int:
    query = sa.select(sa.func.count()).select_from(t.links)
    return int(conn.execute(query.where(t.links.c.system == system, t.links.c.entity == entity)).scalar_one())


def iter_links(store: StateStore, system: str, entity: str, batch: int = 5000) -> Iterator[list[Link]]:
    """All links of a system and entity, in pages (one short read per page)."""
    last_id = 0
    while True:
        with store.read() as conn:
            rows = conn.execute(
                sa.select(t.links)
                .where(t.links.c.system == system, t.links.c.entity == entity, t.links.c.id > last_id)
                .order_by(t.links.c.id)
                .limit(batch)
            ).all()
        if not rows:
            return
        last_id = rows[-1].id
        yield [Link.from_row(row) for row in rows]


# ------------------------------------------------------------------------------ references


def native_to_golden(conn: Connection, system: str, entity: str) -> dict[str, str]:
    """Every link of ``entity`` in ``system``: native id -> golden id (references resolve through it)."""
    rows = conn.execute(
        sa.select(t.links.c.native_id, t.links.c.golden_id).where(
            t.links.c.system == system, t.links.c.entity == entity
        )
    )
    return {row.native_id: row.golden_id for row in rows}


def golden_bases(conn: Connection, entity: str) -> dict[str, CanonicalRecord]:
    """Every active golden record of ``entity``: id -> base."""
    rows = conn.execute(
        sa.select(t.golden.c.id, t.golden.c.base).where(t.golden.c.entity == entity, t.golden.c.status == "active")
    )
    return {row.id: load_record(row.base) for row in rows}

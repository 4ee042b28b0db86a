"""Read-only questions people ask of the state store: which record is this, what ran last.

The engine keeps records by golden id; people know them by their key fields (a customer
number), their name and their id in each system. The command line (``log``, ``conflicts``,
``status``) and other reports name records through :func:`record_names`, which reads the base
values and, where the base lacks a field, the values last seen in a system. Nothing here writes.

``einklang status`` reads through :func:`reader_engine` and :func:`entity_status`, which need
neither the migration machinery (Alembic) nor a schema check: status answers quickly, and falls
back to the full state store (which creates or upgrades the schema) when a table is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from einklang.model import decode, display
from einklang.store import schema as t
from einklang.store.outbox import WAITING_PREFIX
from einklang.store.state import create_engine_for, run_row

NAME_FIELDS: tuple[tuple[str, ...], ...] = (
    ("name",),
    ("first_name", "last_name"),
    ("company",),
    ("email",),
)
"""Fields that name a record, tried in order; the first group with a value wins."""

_CHUNK = 500


@dataclass(frozen=True)
class RecordName:
    """What people know a golden record by."""

    golden_id: str
    entity: str
    keys: Mapping[str, str] = field(default_factory=dict)
    """The first of the entity's key fields that has a value (a customer number), by field name."""
    name: str | None = None
    natives: Mapping[str, str] = field(default_factory=dict)
    """system -> native id."""

    @property
    def label(self) -> str:
        """Key value and name, e.g. ``K10042 Müller GmbH``; the golden id if neither is known."""
        parts = [*self.keys.values(), *([self.name] if self.name else [])]
        return " ".join(parts) if parts else f"golden id {self.golden_id}"

    @property
    def ids(self) -> str:
        """The native ids, e.g. ``erp 10042, crm 17``."""
        return ", ".join(f"{system} {native_id}" for system, native_id in self.natives.items())

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "keys": dict(self.keys), "name": self.name, "ids": dict(self.natives)}


def record_names(
    conn: Connection, golden_ids: Iterable[str | None], keys_of: Mapping[str, Sequence[str]]
) -> dict[str, RecordName]:
    """Names for the given golden ids (unknown ids are left out). ``keys_of``: entity -> key fields."""
    wanted = sorted({golden_id for golden_id in golden_ids if golden_id})
    bases: dict[str, tuple[str, dict[str, Any]]] = {}
    seen: dict[str, list[dict[str, Any]]] = {}
    natives: dict[str, dict[str, str]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for row in conn.execute(
            sa.select(t.golden.c.id, t.golden.c.entity, t.golden.c.base).where(t.golden.c.id.in_(chunk))
        ):
            bases[row.id] = (row.entity, _json_object(row.base))
        for link in conn.execute(
            sa.select(t.links.c.golden_id, t.links.c.system, t.links.c.native_id, t.links.c.seen)
            .where(t.links.c.golden_id.in_(chunk))
            .order_by(t.links.c.id)
        ):
            natives.setdefault(link.golden_id, {})[link.system] = link.native_id
            seen.setdefault(link.golden_id, []).append(_json_object(link.seen))
    names: dict[str, RecordName] = {}
    for golden_id, (entity, base) in bases.items():
        sources = [base, *seen.get(golden_id, [])]
        # an entity's keys are alternatives tried in order; the first one with a value names the record
        keys = next(({key: text} for key in keys_of.get(entity, ()) if (text := _first(sources, key))), {})
        names[golden_id] = RecordName(golden_id, entity, keys, _name(sources), natives.get(golden_id, {}))
    return names


def find_records(conn: Connection, text: str, entity: str | None = None) -> list[str]:
    """Golden ids of the records ``text`` names: a golden id or the record's id in any system (a
    customer number where that is the ERP's id). Golden ids are time-ordered (UUIDv7), so a prefix
    names nothing reliably and is not accepted."""
    text = text.strip()
    if not text:
        return []
    found: dict[str, None] = {}
    golden = sa.select(t.golden.c.id).where(t.golden.c.id == text)
    links = sa.select(t.links.c.golden_id).where(t.links.c.native_id == text)
    if entity:
        golden = golden.where(t.golden.c.entity == entity)
        links = links.where(t.links.c.entity == entity)
    for query in (golden, links):
        found.update((str(row[0]), None) for row in conn.execute(query.limit(100)))
    return list(found)


class NotReady(Exception):
    """The state store lacks a table a report reads: create or upgrade it first (``einklang init``)."""


def reader_engine(url: str) -> Engine | None:
    """An engine for read-only reports; None when a SQLite state store does not exist yet."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path or path.startswith(":memory:") or not Path(path).exists():
            return None
    return create_engine_for(url)


def entity_status(conn: Connection, entity: str, systems: Sequence[str]) -> dict[str, Any]:
    """Active golden records, open conflicts, last run and, per system, links, cursor and outbox counts.

    Raises :class:`NotReady` when a table is missing."""
    try:
        golden = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.golden)
            .where(t.golden.c.entity == entity, t.golden.c.status == "active")
        ).scalar_one()
        conflicts = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.conflicts)
            .where(t.conflicts.c.entity == entity, t.conflicts.c.status == "open")
        ).scalar_one()
        links = {
            str(row[0]): int(row[1])
            for row in conn.execute(
                sa.select(t.links.c.system, sa.func.count())
                .where(t.links.c.entity == entity)
                .group_by(t.links.c.system)
            )
        }
        cursors = {
            str(row[0]): row[1]
            for row in conn.execute(
                sa.select(t.cursors.c.system, t.cursors.c.value).where(t.cursors.c.entity == entity)
            )
        }
        outbox = {
            (str(row[0]), str(row[1])): int(row[2])
            for row in conn.execute(
                sa.select(t.outbox.c.system, t.outbox.c.status, sa.func.count())
                .where(t.outbox.c.entity == entity)
                .group_by(t.outbox.c.system, t.outbox.c.status)
            )
        }
        waiting = {
            str(row[0]): int(row[1])
            for row in conn.execute(
                sa.select(t.outbox.c.system, sa.func.count())
                .where(
                    t.outbox.c.entity == entity,
                    t.outbox.c.status == "pending",
                    t.outbox.c.last_error.like(f"{WAITING_PREFIX}%"),
                )
                .group_by(t.outbox.c.system)
            )
        }
        run = last_run(conn, entity)
    except sa.exc.DBAPIError as exc:
        raise NotReady(str(exc)) from exc
    return {
        "entity": entity,
        "golden_records": int(golden),
        "open_conflicts": int(conflicts),
        "last_run": run,
        "systems": [
            {
                "system": system,
                "linked": int(links.get(system, 0)),
                "cursor": json.loads(text) if (text := cursors.get(system)) is not None else None,
                "outbox_pending": outbox.get((system, "pending"), 0),
                "outbox_failed": outbox.get((system, "failed"), 0),
                "waiting_for_reference": waiting.get(system, 0),
                # configured, and einklang holds records of the entity, but none was ever linked
                # or read there: a system added later, to be filled by `einklang load`
                "not_loaded": bool(golden) and not links.get(system) and system not in cursors,
            }
            for system in systems
        ],
    }


def failed_writes(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    """Writes that failed for good (isolated records), newest first, as plain dictionaries."""
    from einklang.store.outbox import failed_outbox

    try:
        return [dict(write.__dict__) for write in failed_outbox(conn, limit)]
    except sa.exc.DBAPIError as exc:
        raise NotReady(str(exc)) from exc


def waiting_writes(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    """Writes waiting for a referenced record to reach their system, oldest first, with the reason."""
    from einklang.store.outbox import waiting_outbox

    try:
        return [dict(write.__dict__) for write in waiting_outbox(conn, None, limit)]
    except sa.exc.DBAPIError as exc:
        raise NotReady(str(exc)) from exc


def held_records(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    """Records held because a reference points to no record, oldest first, with the field and why."""
    try:
        held = conn.execute(
            sa.select(t.changes.c.entity, t.changes.c.system, t.changes.c.native_id)
            .where(t.changes.c.kind == "held", t.changes.c.processed_at.is_(None))
            .order_by(t.changes.c.id)
            .limit(limit)
        ).all()
        result = []
        for row in held:
            problem = conn.execute(
                sa.select(t.problems.c.field, t.problems.c.message)
                .where(
                    t.problems.c.kind == "dangling_reference",
                    t.problems.c.system == row.system,
                    t.problems.c.entity == row.entity,
                    t.problems.c.native_id == row.native_id,
                )
                .order_by(t.problems.c.id.desc())
                .limit(1)
            ).first()
            result.append(
                {
                    "entity": row.entity,
                    "system": row.system,
                    "native_id": row.native_id,
                    "field": problem.field if problem else None,
                    "message": problem.message if problem else "a reference points to no record",
                }
            )
    except sa.exc.DBAPIError as exc:
        raise NotReady(str(exc)) from exc
    return result


def last_run(conn: Connection, entity: str) -> dict[str, Any] | None:
    """The newest run that touched ``entity``: its own runs and the sync cycles (which cover every entity)."""
    row = conn.execute(
        sa.select(t.runs)
        .where(sa.or_(t.runs.c.entity == entity, t.runs.c.entity.is_(None)))
        .order_by(t.runs.c.id.desc())
        .limit(1)
    ).first()
    return run_row(row._mapping) if row is not None else None


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """An encoded canonical value as people read it."""
    return display(decode(value)).strip()


def _first(sources: Sequence[Mapping[str, Any]], name: str) -> str:
    for source in sources:
        text = _text(source.get(name))
        if text:
            return text
    return ""


def _name(sources: Sequence[Mapping[str, Any]]) -> str | None:
    for group in NAME_FIELDS:
        parts = [text for part in group if (text := _first(sources, part))]
        if parts:
            return " ".join(parts)
    return None

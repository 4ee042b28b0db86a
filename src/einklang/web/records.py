"""Golden records for people: search by name, number or e-mail, one record with each system's
values, its links and its history (the audit log), and isolated records with a retry.

A retry puts a write that failed for good back into the outbox as pending, with its attempts
reset, and audits who asked; the next sync cycle sends it again (re-checked against the
system's fresh state like every outbox entry).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.config import LoadedConfig
from einklang.model import decode, display
from einklang.store import journal
from einklang.store import schema as t
from einklang.store.links import links_of_golden, load_golden
from einklang.store.reports import find_records, record_names
from einklang.store.state import utcnow
from einklang.web.queries import conflict_dict, keys_of

SEARCH_LIMIT = 50


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_records(
    conn: Connection, loaded: LoadedConfig, text: str, limit: int = SEARCH_LIMIT
) -> list[dict[str, Any]]:
    """Records whose id in any system is ``text``, then those whose agreed values contain it
    (a name, a customer number, an e-mail address; case does not matter)."""
    text = text.strip()
    if not text:
        return []
    found = dict.fromkeys(find_records(conn, text))
    if len(found) < limit:
        query = (
            sa.select(t.golden.c.id)
            .where(
                t.golden.c.status != "deleted", sa.func.lower(t.golden.c.base).like(_like_pattern(text), escape="\\")
            )
            .limit(limit)
        )
        found.update(dict.fromkeys(str(row[0]) for row in conn.execute(query)))
    names = record_names(conn, list(found)[:limit], keys_of(loaded))
    return [
        {"golden_id": golden_id, "entity": name.entity, "record": name.as_dict()}
        for golden_id in list(found)[:limit]
        if (name := names.get(golden_id)) is not None
    ]


def record_detail(conn: Connection, loaded: LoadedConfig, golden_id: str) -> dict[str, Any] | None:
    from einklang.store.conflicts import held_conflicts

    row = conn.execute(sa.select(t.golden.c.entity, t.golden.c.status).where(t.golden.c.id == golden_id)).first()
    loaded_golden = load_golden(conn, golden_id)
    if row is None or loaded_golden is None:
        return None
    base = loaded_golden[0]
    entity = str(row.entity)
    linked = links_of_golden(conn, golden_id)
    if entity in loaded.model.entities:  # the systems in the order the config lists them
        order = loaded.systems_of(entity)
        linked = dict(sorted(linked.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
    names = record_names(conn, [golden_id], keys_of(loaded))
    fields = list(loaded.entity_spec(entity).fields) if entity in loaded.model.entities else sorted(base)
    history = journal.audit_log(conn, golden_id=golden_id, limit=200)
    conflicts = held_conflicts(conn, golden_id)
    return {
        "golden_id": golden_id,
        "entity": entity,
        "status": row.status,
        "record": names[golden_id].as_dict() if golden_id in names else None,
        "systems": list(linked),
        "links": [
            {"system": system, "native_id": link.native_id, "version": link.version} for system, link in linked.items()
        ],
        "fields": [
            {
                "field": name,
                "base": display(base.get(name)),
                "values": {system: display((link.seen or {}).get(name)) for system, link in linked.items()},
                "conflict": conflicts[name].id if name in conflicts else None,
            }
            for name in fields
        ],
        "conflicts": [conflict_dict(c, names.get(golden_id)) for c in conflicts.values()],
        "history": [entry.as_dict() for entry in history],
        "isolated": isolated_writes(conn, loaded, golden_id=golden_id),
    }


def isolated_writes(
    conn: Connection, loaded: LoadedConfig, golden_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Writes that failed for good (isolated records), newest first, with the records' names."""
    query = (
        sa.select(
            t.outbox.c.id,
            t.outbox.c.system,
            t.outbox.c.entity,
            t.outbox.c.golden_id,
            t.outbox.c.native_id,
            t.outbox.c.op,
            t.outbox.c.payload,
            t.outbox.c.last_error,
            t.outbox.c.attempts,
            t.outbox.c.created_at,
        )
        .where(t.outbox.c.status == "failed")
        .order_by(t.outbox.c.id.desc())
        .limit(limit)
    )
    if golden_id is not None:
        query = query.where(t.outbox.c.golden_id == golden_id)
    rows = conn.execute(query).all()
    names = record_names(conn, (row.golden_id for row in rows), keys_of(loaded))
    return [
        {
            "id": row.id,
            "system": row.system,
            "entity": row.entity,
            "golden_id": row.golden_id,
            "native_id": row.native_id,
            "op": row.op,
            "values": _payload_text(row.payload),
            "error": row.last_error,
            "attempts": row.attempts,
            "created_at": row.created_at.isoformat(timespec="seconds"),
            "record": names[row.golden_id].as_dict() if row.golden_id in names else None,
        }
        for row in rows
    ]


def _payload_text(payload: str | None) -> dict[str, str]:
    import json

    try:
        values = json.loads(payload or "{}")
    except ValueError:
        return {}
    return {str(k): display(decode(v)) for k, v in values.items()} if isinstance(values, dict) else {}


def retry_isolated(conn: Connection, outbox_id: int, by: str) -> bool:
    """Queue a write that failed for good again; False when it is not (or no longer) failed."""
    row = conn.execute(
        sa.select(
            t.outbox.c.system, t.outbox.c.entity, t.outbox.c.golden_id, t.outbox.c.native_id, t.outbox.c.op
        ).where(t.outbox.c.id == outbox_id, t.outbox.c.status == "failed")
    ).first()
    if row is None:
        return False
    conn.execute(
        t.outbox.update()
        .where(t.outbox.c.id == outbox_id, t.outbox.c.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=None)
    )
    journal.audit(
        conn,
        None,
        [
            {
                "system": row.system,
                "entity": row.entity,
                "golden_id": row.golden_id,
                "native_id": row.native_id,
                "op": "decision",
                "new": {"retry": outbox_id, "op": row.op, "at": utcnow().isoformat(timespec="seconds")},
                "cause": f"retry of the isolated write {outbox_id} asked for by {by}",
            }
        ],
    )
    return True

"""The outbox: writes planned for a system, stored durably before they are tried.

Also the *create batches* of a bulk load: one row for a batch of creates instead of an outbox
entry per record; a batch a crash left pending becomes ordinary outbox entries again
(:func:`expand_create_batches`) before anything new is sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.masking import mask
from einklang.model import CanonicalRecord, encode_record, load_record
from einklang.sql_bulk import driver_value, insert_rows
from einklang.store import schema as t
from einklang.store.rows import FailedWrite, OutboxEntry, PlannedWrite
from einklang.store.state import StateStore, chunks, utcnow

ALL_OPS = ("create", "update", "delete", "archive")


def add_outbox(conn: Connection, run_id: int | None, writes: Sequence[PlannedWrite]) -> list[int]:
    """Plan writes; returns the new ids in the order of ``writes`` (one multi-row INSERT ... RETURNING)."""
    if not writes:
        return []
    now = utcnow()
    rows = [
        {
            "run_id": run_id,
            "system": w.system,
            "entity": w.entity,
            "golden_id": w.golden_id,
            "native_id": w.native_id,
            "op": w.op,
            "payload": json.dumps(encode_record(w.payload)),
            "base_version": w.base_version,
            "cause": w.cause,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for w in writes
    ]
    result = conn.execute(t.outbox.insert().returning(t.outbox.c.id, sort_by_parameter_order=True), rows)
    return [int(row[0]) for row in result]


_PLAN_COLUMNS = (
    "run_id",
    "system",
    "entity",
    "golden_id",
    "native_id",
    "op",
    "payload",
    "base_version",
    "cause",
    "status",
    "attempts",
    "created_at",
)


def plan_writes(conn: Connection, run_id: int | None, writes: Sequence[PlannedWrite]) -> None:
    """:func:`add_outbox` for a page of merges, which needs no ids back: COPY on PostgreSQL."""
    now = driver_value(conn, t.outbox.c.created_at, utcnow())
    rows = [
        (
            run_id,
            w.system,
            w.entity,
            w.golden_id,
            w.native_id,
            w.op,
            json.dumps(encode_record(w.payload)),
            w.base_version,
            w.cause,
            "pending",
            0,
            now,
        )
        for w in writes
    ]
    insert_rows(conn, t.outbox, _PLAN_COLUMNS, rows)


def pending_outbox(
    conn: Connection, system: str, entity: str, ops: Sequence[str] = ALL_OPS, limit: int = 500, after_id: int = 0
) -> list[OutboxEntry]:
    """Pending entries of one system and entity, in the order they were planned."""
    rows = conn.execute(
        sa.select(t.outbox)
        .where(
            t.outbox.c.system == system,
            t.outbox.c.entity == entity,
            t.outbox.c.status == "pending",
            t.outbox.c.op.in_(list(ops)),
            t.outbox.c.id > after_id,
        )
        .order_by(t.outbox.c.id)
        .limit(limit)
    ).all()
    return [OutboxEntry.from_row(row) for row in rows]


def finish_outbox(
    conn: Connection,
    outbox_ids: int | Sequence[int],
    status: str,
    error: str | None = None,
    native_id: str | None = None,
) -> None:
    """Entries are done, failed (for good) or superseded; ``native_id``: the record written."""
    values: dict[str, Any] = {"status": status, "last_error": mask(error) if error else None}
    if status in ("done", "superseded"):
        values["done_at"] = utcnow()
    if native_id is not None:
        values["native_id"] = native_id
    ids = [outbox_ids] if isinstance(outbox_ids, int) else list(outbox_ids)
    for chunk in chunks(ids):
        # a write that was tried counts as an attempt; a create counted its attempt when sent
        attempts = t.outbox.c.attempts + (0 if status == "done" else 1)
        conn.execute(t.outbox.update().where(t.outbox.c.id.in_(chunk)).values(attempts=attempts, **values))


def note_sending(conn: Connection, outbox_id: int, payload: CanonicalRecord) -> None:
    """Before a create is sent: store the payload as sent and count the attempt."""
    conn.execute(
        t.outbox.update()
        .where(t.outbox.c.id == outbox_id)
        .values(payload=json.dumps(encode_record(payload)), attempts=t.outbox.c.attempts + 1)
    )


def count_attempt(conn: Connection, outbox_id: int, error: str) -> None:
    """The entry stays pending; why it did not go through this time."""
    conn.execute(
        t.outbox.update()
        .where(t.outbox.c.id == outbox_id)
        .values(attempts=t.outbox.c.attempts + 1, last_error=mask(error))
    )


WAITING_PREFIX = "waiting for reference"


def note_waiting(conn: Connection, outbox_id: int, reason: str) -> None:
    """The entry stays pending, unsent, until the record it refers to is linked in its system.

    Not an attempt: a create counts its attempts when it is sent (recovery looks for creates
    with attempts), and a wait says nothing about the target.
    """
    conn.execute(t.outbox.update().where(t.outbox.c.id == outbox_id).values(last_error=mask(reason)))


def waiting_outbox(conn: Connection, entity: str | None = None, limit: int = 20) -> list[FailedWrite]:
    """Pending writes that wait for a referenced record, oldest first (``status`` shows them)."""
    query = sa.select(
        t.outbox.c.id,
        t.outbox.c.system,
        t.outbox.c.entity,
        t.outbox.c.golden_id,
        t.outbox.c.native_id,
        t.outbox.c.op,
        t.outbox.c.last_error,
        t.outbox.c.created_at,
    ).where(t.outbox.c.status == "pending", t.outbox.c.last_error.like(f"{WAITING_PREFIX}%"))
    if entity is not None:
        query = query.where(t.outbox.c.entity == entity)
    return [FailedWrite(*row) for row in conn.execute(query.order_by(t.outbox.c.id).limit(limit))]


def supersede_pending(conn: Connection, system: str, golden_id: str, ops: Sequence[str], reason: str) -> None:
    supersede_pending_of(conn, system, [golden_id], ops, reason)


def supersede_pending_of(
    conn: Connection, system: str, golden_ids: Sequence[str], ops: Sequence[str], reason: str
) -> None:
    """Pending ``ops`` of these golden records in ``system`` are superseded (a page at once)."""
    now = utcnow()
    for chunk in chunks(golden_ids):
        conn.execute(
            t.outbox.update()
            .where(
                t.outbox.c.golden_id.in_(chunk) if len(chunk) > 1 else t.outbox.c.golden_id == chunk[0],
                t.outbox.c.system == system,
                t.outbox.c.status == "pending",
                t.outbox.c.op.in_(list(ops)),
            )
            .values(status="superseded", last_error=reason, done_at=now)
        )


def pending_for_golden(conn: Connection, golden_id: str, system: str, op: str) -> list[int]:
    return [
        int(row.id)
        for row in conn.execute(
            sa.select(t.outbox.c.id).where(
                t.outbox.c.golden_id == golden_id,
                t.outbox.c.system == system,
                t.outbox.c.status == "pending",
                t.outbox.c.op == op,
            )
        )
    ]


def pending_creates_with_bases(
    conn: Connection, system: str, entity: str
) -> list[tuple[str, CanonicalRecord, CanonicalRecord]]:
    """Pending creates for ``system``: (golden id, planned payload, golden base now), in outbox order.

    What a new record there may be the result of (an interrupted create) or a counterpart of.
    """
    query = (
        sa.select(t.outbox.c.golden_id, t.outbox.c.payload, t.golden.c.base)
        .select_from(t.outbox.join(t.golden, t.golden.c.id == t.outbox.c.golden_id))
        .where(
            t.outbox.c.system == system,
            t.outbox.c.entity == entity,
            t.outbox.c.status == "pending",
            t.outbox.c.op == "create",
        )
        .order_by(t.outbox.c.id)
    )
    return [(row.golden_id, load_record(row.payload), load_record(row.base)) for row in conn.execute(query)]


def sent_create_payload(
    conn: Connection, golden_id: str, system: str, sent_only: bool = True
) -> CanonicalRecord | None:
    """The payload of a pending create for ``golden_id`` in ``system`` that may have been sent.

    ``note_sending`` counts an attempt (and stores the payload sent) before a create goes out,
    so a pending create with attempts was sent, or was about to be, when a run died. With
    ``sent_only=False`` (the record is known to be einklang's) any pending create's payload.
    """
    query = sa.select(t.outbox.c.payload).where(
        t.outbox.c.golden_id == golden_id,
        t.outbox.c.system == system,
        t.outbox.c.status == "pending",
        t.outbox.c.op == "create",
    )
    if sent_only:
        query = query.where(t.outbox.c.attempts > 0)
    row = conn.execute(query.order_by(t.outbox.c.id.desc()).limit(1)).first()
    return load_record(row.payload) if row is not None else None


def add_failed_create(
    conn: Connection, run_id: int | None, entity: str, system: str, golden_id: str, error: str, cause: str
) -> None:
    """A create the target refused for good, kept as a failed outbox entry (``status`` lists those)."""
    base = conn.execute(sa.select(t.golden.c.base).where(t.golden.c.id == golden_id)).scalar_one()
    conn.execute(
        t.outbox.insert().values(
            run_id=run_id,
            system=system,
            entity=entity,
            golden_id=golden_id,
            op="create",
            payload=base,
            cause=cause,
            status="failed",
            attempts=1,
            last_error=mask(error),
            created_at=utcnow(),
        )
    )


def failed_outbox(conn: Connection, limit: int = 20) -> list[FailedWrite]:
    """Writes that failed for good (isolated records), newest first."""
    query = (
        sa.select(
            t.outbox.c.id,
            t.outbox.c.system,
            t.outbox.c.entity,
            t.outbox.c.golden_id,
            t.outbox.c.native_id,
            t.outbox.c.op,
            t.outbox.c.last_error,
            t.outbox.c.created_at,
        )
        .where(t.outbox.c.status == "failed")
        .order_by(t.outbox.c.id.desc())
        .limit(limit)
    )
    return [FailedWrite(*row) for row in conn.execute(query)]


def outbox_counts(conn: Connection, system: str, entity: str) -> dict[str, int]:
    """status -> number of entries."""
    rows = conn.execute(
        sa.select(t.outbox.c.status, sa.func.count())
        .where(t.outbox.c.system == system, t.outbox.c.entity == entity)
        .group_by(t.outbox.c.status)
    ).all()
    return {row[0]: int(row[1]) for row in rows}


# ------------------------------------------------------------------------------ create batches


def plan_create_batch(
    conn: Connection, run_id: int | None, entity: str, system: str, golden_ids: Sequence[str], cause: str
) -> int:
    """Plan creating ``golden_ids`` (their bases) in ``system``: one row for the whole batch.

    A bulk load writes this instead of an outbox entry per record (a pending entry and its
    completion cost more than the golden record itself).
    """
    result = conn.execute(
        t.create_batches.insert().values(
            run_id=run_id,
            system=system,
            entity=entity,
            golden_ids=json.dumps(list(golden_ids)),
            cause=cause,
            status="pending",
            created_at=utcnow(),
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def finish_create_batch(conn: Connection, batch_id: int) -> None:
    conn.execute(
        t.create_batches.update().where(t.create_batches.c.id == batch_id).values(status="done", done_at=utcnow())
    )


def expand_create_batches(store: StateStore, system: str, entity: str) -> int:
    """Pending create batches of an interrupted run -> outbox entries for records still unlinked there.

    Returns the number of outbox entries made; recovery then finds each record in the target
    (created before the crash: linked) or creates it.
    """
    pending = sa.select(t.create_batches).where(
        t.create_batches.c.system == system, t.create_batches.c.entity == entity, t.create_batches.c.status == "pending"
    )
    with store.read() as conn:
        if conn.execute(pending.limit(1)).first() is None:
            return 0  # the usual case, checked without a write transaction
    made = 0
    with store.transaction() as conn:
        for batch in conn.execute(pending).all():
            for chunk in chunks(json.loads(batch.golden_ids)):
                made += _queue_unfinished_creates(conn, batch, chunk)
            finish_create_batch(conn, batch.id)
    return made


def _queue_unfinished_creates(conn: Connection, batch: Any, golden_ids: list[str]) -> int:
    """Outbox creates for those of a batch's golden records that are active, unlinked, not queued."""
    system = batch.system
    done = set(
        conn.execute(
            sa.select(t.links.c.golden_id).where(t.links.c.golden_id.in_(golden_ids), t.links.c.system == system)
        ).scalars()
    )
    done.update(
        conn.execute(
            sa.select(t.outbox.c.golden_id).where(
                t.outbox.c.golden_id.in_(golden_ids), t.outbox.c.system == system, t.outbox.c.op == "create"
            )
        ).scalars()
    )
    open_ids = [gid for gid in golden_ids if gid not in done]
    if not open_ids:
        return 0
    bases = conn.execute(
        sa.select(t.golden.c.id, t.golden.c.base).where(t.golden.c.id.in_(open_ids), t.golden.c.status == "active")
    ).all()
    add_outbox(
        conn,
        batch.run_id,
        [
            PlannedWrite(
                system,
                batch.entity,
                row.id,
                "create",
                load_record(row.base),
                f"{batch.cause} (interrupted, resumed)",
            )
            for row in bases
        ],
    )
    return len(bases)

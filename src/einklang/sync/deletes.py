"""Deletions: a linked record disappeared from a system; the entity's delete policy decides.

``ignore`` keeps the record elsewhere and reports it, ``manual`` reports it for a person,
``propagate`` deletes the counterparts, ``archive`` archives them (behind the delete guard of
the cycle, see :mod:`einklang.sync.merging`).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from einklang.context import EntityContext
from einklang.store import changes, journal, links, outbox
from einklang.store.rows import ChangeRow, Link, PlannedWrite
from einklang.sync.cycle import Cycle
from einklang.sync.report import EntityReport


def handle_delete(
    cycle: Cycle, ctx: EntityContext, row: ChangeRow, link: Link, change_ids: list[int], report: EntityReport
) -> None:
    policy = ctx.sync.deletes
    golden_id, source = link.golden_id, row.system
    with cycle.write() as conn:
        run_id = cycle.run_id
        loaded = links.load_golden(conn, golden_id, lock=True)  # workers touching it take turns
        linked = links.links_of_golden(conn, golden_id)
        links.delete_link(conn, source, ctx.name, row.native_id)
        outbox.supersede_pending(
            conn, source, golden_id, ("update", "create", "delete", "archive"), f"record deleted in {source}"
        )
        others = {s: lk for s, lk in linked.items() if s != source}
        active = loaded is not None and loaded[1] == "active"
        cause = f"deleted in {source} ({row.native_id}); policy {policy}"
        if policy in ("propagate", "archive") and active:
            for system, other in others.items():
                outbox.supersede_pending(conn, system, golden_id, ("update", "create"), cause)
                op = "delete" if policy == "propagate" else "archive"
                outbox.add_outbox(
                    conn,
                    run_id,
                    [PlannedWrite(system, ctx.name, golden_id, op, {}, cause, other.native_id, other.version)],
                )
                report.deletes_planned += 1
            # creates still waiting for a system are dropped: the record is gone
            links.set_golden_status(conn, golden_id, "deleted" if policy == "propagate" else "archived")
        elif active:
            journal.add_problems(
                conn,
                run_id,
                [
                    {
                        "kind": "deleted" if policy == "ignore" else "delete_review",
                        "system": source,
                        "entity": ctx.name,
                        "native_id": row.native_id,
                        "golden_id": golden_id,
                        "message": f"record deleted in {source}; kept in {', '.join(others) or 'no other system'} "
                        f"(deletes: {policy})",
                    }
                ],
            )
            if not others:
                links.set_golden_status(conn, golden_id, "deleted")
        journal.audit(
            conn,
            run_id,
            [
                {
                    "system": source,
                    "entity": ctx.name,
                    "golden_id": golden_id,
                    "native_id": row.native_id,
                    "op": "unlink",
                    "cause": cause,
                }
            ],
        )
        changes.mark_changes_processed(conn, change_ids)


def follow_removal(
    cycle: Cycle,
    conn: Connection,
    ctx: EntityContext,
    system: str,
    golden_id: str,
    native_id: str,
    version: str | None,
    status: str,
    report: EntityReport,
) -> bool:
    """A record linked to a golden record that was deleted or archived meanwhile.

    Under the ``propagate`` and ``archive`` policies the removal reaches it too (it is a
    counterpart found late: an interrupted create's result, or a record with the key of one
    being deleted), so nothing stays linked to a removed golden record. Under ``ignore`` and
    ``manual`` a removal never spreads, so the golden record comes back with the record kept
    here. Returns True when a removal was planned.
    """
    policy = ctx.sync.deletes
    if policy in ("propagate", "archive"):
        op = "delete" if policy == "propagate" else "archive"
        cause = f"golden record {status} (deletes: {policy}); this {system} record was linked afterwards"
        outbox.add_outbox(
            conn, cycle.ensure_run(), [PlannedWrite(system, ctx.name, golden_id, op, {}, cause, native_id, version)]
        )
        report.deletes_planned += 1
        return True
    links.set_golden_status(conn, golden_id, "active")
    return False

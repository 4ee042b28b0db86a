"""Merge bookkeeping: one golden record merged three-way, and everything it leads to.

One transaction holds the new base, the links' seen state, conflicts, decisions (audit),
problems and the planned writes (outbox) of the golden record.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.engine import Connection

from einklang.context import EntityContext
from einklang.model import CanonicalRecord, CanonicalValue, display
from einklang.store import changes, conflicts, journal, links, outbox
from einklang.store.rows import Link, PlannedWrite
from einklang.sync.cycle import Cycle, Observation
from einklang.sync.merge import SystemView, merge_record
from einklang.sync.references import StoreReferences
from einklang.sync.report import EntityReport


def merge_golden(
    cycle: Cycle,
    ctx: EntityContext,
    golden_id: str,
    observations: Mapping[str, Observation],
    change_ids: list[int],
    report: EntityReport,
    cause_prefix: str = "",
) -> None:
    """Merge one golden record and persist everything it leads to in one transaction."""
    with cycle.write() as conn:
        _merge_in(cycle, conn, ctx, golden_id, observations, change_ids, report, cause_prefix)
    cycle.fault("merged_golden")


def _views(
    cycle: Cycle,
    ctx: EntityContext,
    base: CanonicalRecord,
    linked: Mapping[str, Link],
    observations: Mapping[str, Observation],
) -> list[SystemView]:
    views = []
    for system in cycle.systems(ctx):
        link = linked.get(system)
        if link is None:
            continue
        mapping = ctx.mapping(system)
        mapped = frozenset(mapping.canonical_fields)
        seen = link.seen if link.seen is not None else {k: v for k, v in base.items() if k in mapped}
        observed = observations.get(system)
        views.append(
            SystemView(
                system,
                mapped,
                seen,
                observed.record if observed else None,
                observed.modified if observed else None,
                link.tolerated,
                frozenset(mapping.writable_fields()),
            )
        )
    return views


def _merge_in(
    cycle: Cycle,
    conn: Connection,
    ctx: EntityContext,
    golden_id: str,
    observations: Mapping[str, Observation],
    change_ids: list[int],
    report: EntityReport,
    cause_prefix: str,
) -> None:
    entity = ctx.name
    loaded = links.load_golden(conn, golden_id, lock=True)  # workers merging it take turns
    if loaded is None or loaded[1] != "active":
        changes.mark_changes_processed(conn, change_ids)
        return
    base, _ = loaded
    linked = links.links_of_golden(conn, golden_id)
    held_rows = conflicts.held_conflicts(conn, golden_id)
    views = _views(cycle, ctx, base, linked, observations)
    result = merge_record(base, views, ctx.policy, {f: c.values for f, c in held_rows.items()})
    report.merged += 1 if observations else 0
    report.conflicts += len(result.conflicts)
    report.violations += sum(1 for d in result.decisions if d.kind == "violation")
    report.updates_planned += len(result.writes)
    run_id = cycle.run_id
    if result.base != base:
        links.save_golden(conn, golden_id, result.base)
    for view in views:
        link = linked[view.system]
        observed = observations.get(view.system)
        seen = result.seen[view.system]
        tolerated = result.tolerated[view.system]
        if observed is not None or seen != (link.seen or {}) or tolerated != link.tolerated:
            links.save_link(
                conn,
                entity,
                view.system,
                link.native_id,
                observed.version if observed else link.version,
                seen,
                tolerated,
            )
    references = ctx.spec.references()
    for conflict in result.conflicts:
        reason = conflict.reason
        if conflict.field in references:  # people know the referenced records by name, not golden id
            reason += "; " + _referenced_names(cycle, conflict.base, conflict.values)
        conflicts.insert_conflict(conn, entity, golden_id, conflict.field, conflict.base, conflict.values, reason)
    for name, values in result.held.items():
        if name in held_rows and values != held_rows[name].values:
            conflicts.update_conflict_values(conn, held_rows[name].id, values)
    for name, value in result.settled.items():
        conflicts.close_conflict(conn, held_rows[name].id, {"settled": display(value), "by": "systems agreed"})
    journal.audit(
        conn,
        run_id,
        [
            {
                "system": d.system,
                "entity": entity,
                "golden_id": golden_id,
                "op": "decision",
                "old": {d.field: display(d.old)},
                "new": {d.field: display(d.new)},
                "cause": cause_prefix + d.reason,
            }
            for d in result.decisions
            if d.kind != "change"
        ],
    )
    journal.add_problems(
        conn,
        run_id,
        [
            {
                "kind": "violation",
                "system": d.system,
                "entity": entity,
                "golden_id": golden_id,
                "native_id": linked[d.system].native_id if d.system in linked else None,
                "field": d.field,
                "message": d.reason,
            }
            for d in result.decisions
            if d.kind == "violation"
        ],
    )
    for view in views:  # the new plan is the whole desired state: older pending updates go
        outbox.supersede_pending(conn, view.system, golden_id, ("update",), "replaced by a newer plan")
    writes = []
    for system, patch in result.writes.items():
        reasons = result.write_reasons[system]
        cause = cause_prefix + "; ".join(dict.fromkeys(reasons[name] for name in sorted(patch)))
        writes.append(
            PlannedWrite(
                system, entity, golden_id, "update", patch, cause, linked[system].native_id, linked[system].version
            )
        )
    outbox.add_outbox(conn, run_id, writes)
    changes.mark_changes_processed(conn, change_ids)


def _referenced_names(cycle: Cycle, base: CanonicalValue, values: Mapping[str, CanonicalValue]) -> str:
    """``last agreed 'Werkzeuge' (…); erp 'Garten' (…), crm 'Elektro' (…)``: each golden id with its name."""
    references = cycle.references or StoreReferences(cycle.store)

    def named(value: CanonicalValue) -> str:
        return references.label(str(value)) if value is not None else "(empty)"

    now = ", ".join(f"{system} {named(value)}" for system, value in values.items())
    return f"last agreed {named(base)}; now {now}"

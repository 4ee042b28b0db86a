"""Merge bookkeeping: golden records merged three-way, and everything that leads to.

One transaction holds, for a page of golden records, the new bases, the links' seen state,
conflicts, decisions (audit), problems and the planned writes (outbox); the page's rows are
read and written with bulk statements (a single record is a page of one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from einklang.context import EntityContext
from einklang.model import CanonicalRecord, CanonicalValue, display
from einklang.store import changes, conflicts, journal, links, outbox
from einklang.store.rows import ConflictRow, Link, PlannedWrite
from einklang.sync.cycle import Cycle, Observation
from einklang.sync.merge import SystemView, merge_record
from einklang.sync.references import StoreReferences
from einklang.sync.report import EntityReport


@dataclass
class MergeItem:
    """One golden record to merge: what its systems hold now (as captured) and the changes that said so."""

    golden_id: str
    observations: Mapping[str, Observation]
    change_ids: list[int]


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
    merge_goldens(cycle, ctx, [MergeItem(golden_id, observations, change_ids)], report, cause_prefix)


def merge_goldens(
    cycle: Cycle, ctx: EntityContext, items: Sequence[MergeItem], report: EntityReport, cause_prefix: str = ""
) -> None:
    """Merge a page of golden records (each golden id once) and persist them in ONE transaction.

    The records are read with one query per table, merged in memory, and their new bases,
    links, outbox entries, audit rows and processed changes written with bulk statements: all
    of the page or nothing (a crash before the commit leaves every change pending).
    """
    if not items:
        return
    with cycle.write() as conn:
        page = _PageWrites()
        ids = [item.golden_id for item in items]
        bases = links.load_goldens(conn, ids, lock=True)  # workers merging one take turns
        linked = links.links_of_goldens(conn, ids)
        held = conflicts.held_conflicts_of(conn, ids)
        shapes = _shapes(cycle, ctx)
        for item in items:
            loaded = bases.get(item.golden_id)
            if loaded is None or loaded[1] != "active":
                page.processed.extend(item.change_ids)
                continue
            _merge_one(
                cycle,
                conn,
                ctx,
                item,
                loaded[0],
                linked.get(item.golden_id, {}),
                held.get(item.golden_id, {}),
                shapes,
                page,
                report,
                cause_prefix,
            )
        page.write(conn, ctx.name, cycle.run_id)
    cycle.fault("merged_golden")


@dataclass
class _PageWrites:
    """What a page of merges writes, gathered for bulk statements."""

    bases: list[tuple[str, CanonicalRecord]] = field(default_factory=list)
    link_states: list[links.LinkState] = field(default_factory=list)
    superseded: dict[str, list[str]] = field(default_factory=dict)  # system -> golden ids replanned
    writes: list[PlannedWrite] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    processed: list[int] = field(default_factory=list)

    def write(self, conn: Connection, entity: str, run_id: int | None) -> None:
        links.save_goldens(conn, self.bases)
        links.save_links(conn, entity, self.link_states)
        journal.audit(conn, run_id, self.audit)
        journal.add_problems(conn, run_id, self.problems)
        # the new plan is the whole desired state: older pending updates go (before the new ones are added)
        for system, golden_ids in self.superseded.items():
            outbox.supersede_pending_of(conn, system, golden_ids, ("update",), "replaced by a newer plan")
        outbox.plan_writes(conn, run_id, self.writes)
        changes.mark_changes_processed(conn, self.processed)


# system -> (its mapped fields, the fields einklang may write there), in the config's order
_Shapes = dict[str, tuple[frozenset[str], frozenset[str]]]


def _shapes(cycle: Cycle, ctx: EntityContext) -> _Shapes:
    """The systems' field sets, made once per page instead of once per record."""
    shapes: _Shapes = {}
    for system in cycle.systems(ctx):
        mapping = ctx.mapping(system)
        shapes[system] = (frozenset(mapping.canonical_fields), frozenset(mapping.writable_fields()))
    return shapes


def _views(
    shapes: _Shapes,
    base: CanonicalRecord,
    linked: Mapping[str, Link],
    observations: Mapping[str, Observation],
) -> list[SystemView]:
    views = []
    for system, (mapped, writable) in shapes.items():
        link = linked.get(system)
        if link is None:
            continue
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
                writable,
            )
        )
    return views


def _merge_one(
    cycle: Cycle,
    conn: Connection,
    ctx: EntityContext,
    item: MergeItem,
    base: CanonicalRecord,
    linked: Mapping[str, Link],
    held_rows: Mapping[str, ConflictRow],
    shapes: _Shapes,
    page: _PageWrites,
    report: EntityReport,
    cause_prefix: str,
) -> None:
    entity = ctx.name
    golden_id = item.golden_id
    observations = item.observations
    views = _views(shapes, base, linked, observations)
    result = merge_record(base, views, ctx.policy, {f: c.values for f, c in held_rows.items()})
    report.merged += 1 if observations else 0
    report.conflicts += len(result.conflicts)
    report.violations += sum(1 for d in result.decisions if d.kind == "violation")
    report.updates_planned += len(result.writes)
    if result.base != base:
        page.bases.append((golden_id, result.base))
    for view in views:
        link = linked[view.system]
        observed = observations.get(view.system)
        seen = result.seen[view.system]
        tolerated = result.tolerated[view.system]
        if observed is not None or seen != (link.seen or {}) or tolerated != link.tolerated:
            version = observed.version if observed else link.version
            page.link_states.append((view.system, link.native_id, version, seen, tolerated))
    references = ctx.spec.references()
    for conflict in result.conflicts:  # conflicts are rare: written one by one, in the page's transaction
        reason = conflict.reason
        if conflict.field in references:  # people know the referenced records by name, not golden id
            reason += "; " + _referenced_names(cycle, conflict.base, conflict.values)
        conflicts.insert_conflict(conn, entity, golden_id, conflict.field, conflict.base, conflict.values, reason)
    for name, values in result.held.items():
        if name in held_rows and values != held_rows[name].values:
            conflicts.update_conflict_values(conn, held_rows[name].id, values)
    for name, value in result.settled.items():
        conflicts.close_conflict(conn, held_rows[name].id, {"settled": display(value), "by": "systems agreed"})
    page.audit.extend(
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
    )
    page.problems.extend(
        {
            "kind": "violation",
            "system": d.system,
            "entity": entity,
            "golden_id": golden_id,
            "native_id": linked[d.system].native_id if d.system is not None and d.system in linked else None,
            "field": d.field,
            "message": d.reason,
        }
        for d in result.decisions
        if d.kind == "violation"
    )
    for view in views:
        page.superseded.setdefault(view.system, []).append(golden_id)
    for system, patch in result.writes.items():
        reasons = result.write_reasons[system]
        cause = cause_prefix + "; ".join(dict.fromkeys(reasons[name] for name in sorted(patch)))
        page.writes.append(
            PlannedWrite(
                system, entity, golden_id, "update", patch, cause, linked[system].native_id, linked[system].version
            )
        )
    page.processed.extend(item.change_ids)


def _referenced_names(cycle: Cycle, base: CanonicalValue, values: Mapping[str, CanonicalValue]) -> str:
    """``last agreed 'Werkzeuge' (…); erp 'Garten' (…), crm 'Elektro' (…)``: each golden id with its name."""
    references = cycle.references or StoreReferences(cycle.store)

    def named(value: CanonicalValue) -> str:
        return references.label(str(value)) if value is not None else "(empty)"

    now = ", ".join(f"{system} {named(value)}" for system, value in values.items())
    return f"last agreed {named(base)}; now {now}"

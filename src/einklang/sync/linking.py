"""New records: a record not linked yet is linked to what it is, or becomes a new golden record.

In order: a record already linked meanwhile is merged; the record's key is looked up in every
other reachable system and among golden records waiting for their create in the record's own
system (the result of an interrupted create, or the same thing made there by hand); then the
fuzzy matcher (a sure match is linked, a possible one held for a person). Only a record that
is none of these becomes a new golden record, linked where its key was found and planned for
creation everywhere else (I2: sync never creates a duplicate).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from einklang.connectors.base import NativeRecord
from einklang.context import EntityContext
from einklang.model import CanonicalRecord, CanonicalValue, encode
from einklang.store import changes, journal, links, outbox
from einklang.store.rows import ChangeRow, PlannedWrite
from einklang.sync.breaker import SystemDown
from einklang.sync.capture import sent_seen
from einklang.sync.cycle import Cycle, Observation, parse_stamp
from einklang.sync.deletes import follow_removal
from einklang.sync.matching import best_matches
from einklang.sync.merging import merge_golden
from einklang.sync.report import EntityReport


def handle_new(cycle: Cycle, ctx: EntityContext, row: ChangeRow, change_ids: list[int], report: EntityReport) -> None:
    assert row.record is not None
    source, entity = row.system, ctx.name
    with cycle.store.read() as conn:
        existing = links.links_by_native(conn, source, entity, [row.native_id]).get(row.native_id)
    if existing is not None:  # linked meanwhile (found by key while handling another new record)
        merge_golden(cycle, ctx, existing.golden_id, {source: _observation(row, change_ids)}, change_ids, report)
        return
    record = row.record
    # look the record up by key in every other reachable system
    found: dict[str, list[NativeRecord]] = {}
    unreachable: list[str] = []
    for system in cycle.systems(ctx):
        if system == source:
            continue
        if not ctx.keys:
            found[system] = []
            continue
        try:
            found[system] = lookup_by_key(cycle, ctx, system, record)
        except SystemDown:
            unreachable.append(system)
    with cycle.store.read() as conn:
        found_links = {
            system: links.links_by_native(conn, system, entity, [r.native_id for r in records])
            for system, records in found.items()
        }
    goldens = {link.golden_id for linked in found_links.values() for link in linked.values()}
    # A golden record waiting for its create in the source is what the new record is when
    # the key says so: the result of an interrupted create, or the same thing made there by
    # hand meanwhile. The state store knows it even while the systems linked to it are down.
    goldens |= _pending_create_matches(cycle, ctx, source, record)
    if len(goldens) > 1:
        skip_with_problem(
            cycle,
            ctx,
            row,
            change_ids,
            "ambiguous_key",
            f"new record's key matches {len(goldens)} different linked records; not synced",
        )
        return
    if goldens:
        attach(cycle, ctx, row, change_ids, goldens.pop(), report)
        return
    if not any(found.values()) and _fuzzy_match(cycle, ctx, row, change_ids, report):
        return
    # checked only now: a new record lacking a required value may still be one that exists
    missing = [
        n
        for n, f in ctx.spec.fields.items()
        if f.required and record.get(n) is None and n in ctx.mapping(source).canonical_fields
    ]
    if missing:
        skip_with_problem(
            cycle,
            ctx,
            row,
            change_ids,
            "invalid_value",
            f"new record not synced: required field(s) empty: {', '.join(missing)}",
        )
        return
    plan_create: list[str] = []
    link_to: dict[str, NativeRecord] = {}
    problems: list[str] = []
    for system, records in found.items():
        if len(records) == 1:
            link_to[system] = records[0]
        elif len(records) > 1:
            problems.append(
                f"{system}: key matches {len(records)} records "
                f"({', '.join(r.native_id for r in records[:5])}); not linked, not created"
            )
        elif ctx.creates_in(system):
            plan_create.append(system)
    plan_create.extend(s for s in unreachable if ctx.creates_in(s))
    base = dict(record)
    linked_seen: dict[str, CanonicalRecord] = {}
    for system, target in link_to.items():
        canonical, _ = ctx.mapping(system).to_canonical(target.fields)
        linked_seen[system] = canonical
        for name, value in canonical.items():  # a value only the found record has is kept, not wiped
            if base.get(name) is None and value is not None:
                base[name] = value
    with cycle.write() as conn:
        run_id = cycle.run_id
        golden_id = links.insert_golden(conn, entity, [base])[0]
        for system in plan_create:
            _index_pending_create(cycle, ctx, system, golden_id, base)
        for (cached_entity, system), candidates in cycle.fuzzy_candidates.items():
            # a record new elsewhere in this same cycle may be this one: let the matcher see it
            if cached_entity == entity and system != source and system not in link_to:
                candidates[golden_id] = base
        links.insert_link(conn, entity, source, golden_id, row.native_id, row.version, record)
        audit: list[dict[str, Any]] = [
            {
                "system": source,
                "entity": entity,
                "golden_id": golden_id,
                "native_id": row.native_id,
                "op": "link",
                "cause": f"new record in {source}",
            }
        ]
        for system, target in link_to.items():
            links.insert_link(conn, entity, system, golden_id, target.native_id, target.version, linked_seen[system])
            audit.append(
                {
                    "system": system,
                    "entity": entity,
                    "golden_id": golden_id,
                    "native_id": target.native_id,
                    "op": "link",
                    "cause": f"same key as new {source} record {row.native_id}",
                }
            )
        outbox.add_outbox(
            conn,
            run_id,
            [
                PlannedWrite(system, entity, golden_id, "create", base, f"new record in {source} ({row.native_id})")
                for system in plan_create
            ],
        )
        journal.audit(conn, run_id, audit)
        journal.add_problems(
            conn,
            run_id,
            [
                {
                    "kind": "ambiguous_key",
                    "system": source,
                    "entity": entity,
                    "native_id": row.native_id,
                    "golden_id": golden_id,
                    "message": message,
                }
                for message in problems
            ],
        )
        changes.mark_changes_processed(conn, change_ids)
    report.linked += len(link_to)
    report.creates_planned += len(plan_create)
    cycle.fault("new_golden")
    if link_to:  # the found records may differ from the new one: plan what they need
        merge_golden(cycle, ctx, golden_id, {}, [], report)


def _observation(row: ChangeRow, change_ids: list[int]) -> Observation:
    assert row.record is not None
    return Observation(change_ids, row.native_id, row.version, row.record, parse_stamp(row.source_modified))


def key_criteria(ctx: EntityContext, system: str, record: CanonicalRecord) -> list[dict[str, Any]]:
    """Native lookup criteria per key field, in the configured order."""
    criteria = []
    mapping = ctx.mapping(system)
    for key in ctx.keys:
        if record.get(key) is None or key not in mapping.canonical_fields:
            continue
        native = mapping.to_native({key: record[key]}, only=[key])
        if native and all(value is not None for value in native.values()):
            criteria.append(native)
    return criteria


def lookup_by_key(cycle: Cycle, ctx: EntityContext, system: str, record: CanonicalRecord) -> list[NativeRecord]:
    """The records of ``system`` with the first of the record's keys that finds any."""
    connector = cycle.connectors[system]
    for criteria in key_criteria(ctx, system, record):

        def find(c: dict[str, Any] = criteria) -> list[NativeRecord]:
            return connector.find(ctx.name, c)

        found: list[NativeRecord] = cycle.call(system, find)
        if found:
            return found
    return []


def _key_values(ctx: EntityContext, record: Mapping[str, CanonicalValue]) -> list[tuple[str, str]]:
    return [
        (key, json.dumps(encode(record[key]), sort_keys=True, default=str))
        for key in ctx.keys
        if record.get(key) is not None
    ]


def _index_pending_create(
    cycle: Cycle, ctx: EntityContext, system: str, golden_id: str, *records: Mapping[str, CanonicalValue]
) -> None:
    index = cycle.pending_creates.get((ctx.name, system))
    if index is None:
        return  # not loaded yet: loading reads it from the outbox
    for record in records:
        for key_value in _key_values(ctx, record):
            index.setdefault(key_value, set()).add(golden_id)


def _pending_create_matches(cycle: Cycle, ctx: EntityContext, source: str, record: CanonicalRecord) -> set[str]:
    """Golden records with a pending create in ``source`` whose key the record has (first key that hits)."""
    keys = _key_values(ctx, record)
    if not keys:
        return set()
    cache_key = (ctx.name, source)
    if cache_key not in cycle.pending_creates:  # loaded once per cycle, then kept up to date
        outbox.expand_create_batches(cycle.store, source, ctx.name)  # creates an interrupted load had planned
        cycle.pending_creates[cache_key] = {}
        with cycle.store.read() as conn:
            pending = outbox.pending_creates_with_bases(conn, source, ctx.name)
        for golden_id, payload, base in pending:
            _index_pending_create(cycle, ctx, source, golden_id, payload, base)
    index = cycle.pending_creates[cache_key]
    for key_value in keys:
        hits = index.get(key_value)
        if not hits:
            continue
        with cycle.store.read() as conn:  # still waiting there, not linked meanwhile
            hits = {
                golden_id
                for golden_id in hits
                if outbox.pending_for_golden(conn, golden_id, source, "create")
                and source not in links.links_of_golden(conn, golden_id)
            }
        if hits:
            return hits
    return set()


def _fuzzy_match(cycle: Cycle, ctx: EntityContext, row: ChangeRow, change_ids: list[int], report: EntityReport) -> bool:
    """After the keys, the fuzzy matcher: a sure match is linked, a possible one held for a person.

    Returns True when the record was handled (linked or held), False when it is clearly new.
    """
    if ctx.match is None or row.record is None:
        return False
    key = (ctx.name, row.system)
    if key not in cycle.fuzzy_candidates:  # golden records not linked in the source; loaded once per cycle
        with cycle.store.read() as conn:
            cycle.fuzzy_candidates[key] = links.golden_bases_unlinked_in(conn, ctx.name, row.system)
    candidates = cycle.fuzzy_candidates[key]
    matches = best_matches(ctx.match, {row.native_id: row.record}, candidates, ctx.default_region).get(
        row.native_id, []
    )
    if not matches:
        return False
    best = matches[0]
    if best.sure and (len(matches) == 1 or not matches[1].sure):
        candidates.pop(best.existing_id, None)
        attach(cycle, ctx, row, change_ids, best.existing_id, report, cause=f"fuzzy match: {best.describe()}")
        return True
    described = "; ".join(m.describe() for m in matches[:3])
    skip_with_problem(
        cycle,
        ctx,
        row,
        change_ids,
        "possible_duplicate",
        f"new record may be a duplicate — {described}; not created, a person must decide",
    )
    return True


def attach(
    cycle: Cycle,
    ctx: EntityContext,
    row: ChangeRow,
    change_ids: list[int],
    golden_id: str,
    report: EntityReport,
    cause: str | None = None,
) -> None:
    """A new record whose key matches a golden record it is not linked to yet."""
    assert row.record is not None
    source, entity = row.system, ctx.name
    with cycle.store.read() as conn:
        linked = links.links_of_golden(conn, golden_id)
    if source in linked:
        skip_with_problem(
            cycle,
            ctx,
            row,
            change_ids,
            "duplicate",
            f"same key as {source} record {linked[source].native_id}, which is already "
            "linked: possible duplicate, not synced",
        )
        return
    with cycle.write() as conn:
        loaded = links.load_golden(conn, golden_id, lock=True)  # its partition's worker may merge it now
        base, status = loaded if loaded else ({}, "active")
        # a create for it was sent there (or about to be) when a run died: the record is
        # most likely that create's result, measured against what was sent (edits since count)
        sent = outbox.sent_create_payload(conn, golden_id, source)
        if sent is not None:
            seen = sent_seen(ctx, source, sent, row.record)
        else:  # someone else's record: it fills what the golden record lacks, the rest is planned
            seen = row.record
            filled = {k: v for k, v in row.record.items() if base.get(k) is None and v is not None}
            if filled and status == "active":
                links.save_golden(conn, golden_id, {**base, **filled})
        links.insert_link(conn, entity, source, golden_id, row.native_id, row.version, seen)
        outbox.supersede_pending(conn, source, golden_id, ("create",), f"linked to existing {row.native_id}")
        journal.audit(
            conn,
            cycle.run_id,
            [
                {
                    "system": source,
                    "entity": entity,
                    "golden_id": golden_id,
                    "native_id": row.native_id,
                    "op": "link",
                    "cause": cause or f"new {source} record has the key of an existing record",
                }
            ],
        )
        if status != "active":  # its counterparts are being removed: so is it (or it brings it back)
            follow_removal(cycle, conn, ctx, source, golden_id, row.native_id, row.version, status, report)
        changes.mark_changes_processed(conn, change_ids)
    report.linked += 1
    observed = {source: _observation(row, [])} if sent is not None else {}
    merge_golden(cycle, ctx, golden_id, observed, [], report)


def skip_with_problem(
    cycle: Cycle, ctx: EntityContext, row: ChangeRow, change_ids: list[int], kind: str, message: str
) -> None:
    """The record is not synced; the problem says why, for a person."""
    with cycle.write() as conn:
        journal.add_problems(
            conn,
            cycle.run_id,
            [{"kind": kind, "system": row.system, "entity": ctx.name, "native_id": row.native_id, "message": message}],
        )
        changes.mark_changes_processed(conn, change_ids)

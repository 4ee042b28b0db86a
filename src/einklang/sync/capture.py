"""Capture: read each system's changes from its cursor and store them for the merge.

Each page is stored in the ``changes`` table and the cursor advanced in the same transaction,
so a crash loses nothing and reading again only repeats work. Echoes of einklang's own writes
are recognised by the link's record hash and dropped here. An unlinked record carrying
einklang's golden id in the correlation field (a create whose link a crash lost) is linked to
that golden record here, before anything could take it for a new record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from einklang.connectors.base import ChangeDetection, NativeRecord
from einklang.context import EntityContext
from einklang.mapping import FieldProblem
from einklang.model import CanonicalRecord, record_hash, record_json
from einklang.store import changes, journal, links, outbox
from einklang.store.rows import NewChange
from einklang.sync.breaker import SystemDown
from einklang.sync.cycle import Cycle, stamp
from einklang.sync.deletes import follow_removal
from einklang.sync.echoes import native_digest
from einklang.sync.relink import StateLost
from einklang.sync.report import EntityReport


def capture(cycle: Cycle, ctx: EntityContext, system: str, report: EntityReport) -> None:
    if not cycle.breakers.allows(system):
        report.unavailable[system] = cycle.breakers.down_now.get(system) or "circuit open"
        return
    try:
        cycle.call(system, lambda: _capture_pages(cycle, ctx, system, report))
    except SystemDown as exc:
        report.unavailable[system] = exc.reason


def _capture_pages(cycle: Cycle, ctx: EntityContext, system: str, report: EntityReport) -> None:
    connector = cycle.connectors[system]
    mapping = ctx.mapping(system)
    capabilities = connector.capabilities(ctx.name)
    modified_field = capabilities.modified_field
    snapshot_mode = capabilities.change_detection is ChangeDetection.SNAPSHOT
    correlation = capabilities.correlation_field
    with cycle.store.read() as conn:
        cursor = changes.get_cursor(conn, system, ctx.name)
        held_before = changes.held_changes(conn, system, ctx.name) if mapping.reference_fields else {}
    if held_before:
        held_before = _retry_held(cycle, ctx, system, held_before)
    snapshots = changes.DbSnapshotStore(cycle.store, system, ctx.name) if snapshot_mode else None
    # a reference field's canonical value depends on other records' links: no memo there
    memo = cycle.echo_memo if not mapping.reference_fields else None
    for page in connector.read_changes(ctx.name, cursor, snapshots):
        ids = [r.native_id for r in page.records] + list(page.deleted_ids)
        with cycle.store.read() as conn:
            known = links.link_hashes(conn, system, ctx.name, ids)
            # partitioned workers: other partitions merge later; read again meanwhile, not stored again
            waiting = {} if cycle.scope.whole else changes.latest_pending_records(conn, system, ctx.name, ids)
        rows: list[NewChange] = []
        problems: list[dict[str, Any]] = []
        ours: list[tuple[NativeRecord, CanonicalRecord, str]] = []
        held: list[str] = []
        held_new: list[str] = []
        settled: list[int] = []
        for record in page.records:
            digest = native_digest(record.fields) if memo is not None else ""
            if memo is not None and record.native_id in known:
                memo_hash = memo.canonical_hash((system, ctx.name, record.native_id), digest)
                if memo_hash is not None and memo_hash == known[record.native_id]:
                    report.echoes += 1  # read again unchanged (the overlap after a burst): no mapping
                    continue
            canonical, field_problems = mapping.to_canonical(record.fields)
            canonical_hash = record_hash(canonical)
            if memo is not None and not field_problems:  # its next reading, inside the overlap, is free
                memo.remember((system, ctx.name, record.native_id), digest, canonical_hash)
            if record.native_id in known and known[record.native_id] == canonical_hash:
                report.echoes += 1
                continue
            if waiting and waiting.get(record.native_id) == (record.version, record_json(canonical)):
                continue  # captured before and still waiting for its partition's worker
            modified = record.fields.get(modified_field) if modified_field else None
            if record.native_id in held_before:  # read again: the older holding is over either way
                settled.append(held_before.pop(record.native_id))
            if any(p.kind == "dangling_reference" for p in field_problems):
                # read again each cycle until the reference resolves (the record it names may
                # come later); a new record is never created without it, a linked one syncs
                # its other fields meanwhile
                rows.append(
                    NewChange(system, record.native_id, changes.HELD, record.version, canonical, stamp(modified))
                )
                held.append(record.native_id)
                if record.native_id not in known:
                    held_new.append(record.native_id)
                    problems.extend(_dangling(ctx.name, system, record.native_id, field_problems))
                    continue
            if correlation and record.native_id not in known and record.fields.get(correlation):
                ours.append((record, canonical, str(record.fields[correlation])))
            rows.append(NewChange(system, record.native_id, "upsert", record.version, canonical, stamp(modified)))
            problems.extend(
                {
                    "kind": p.kind,
                    "system": system,
                    "entity": ctx.name,
                    "native_id": record.native_id,
                    "field": p.field,
                    "message": f"{p.reason} (value {p.value!r}); field not synced",
                }
                for p in field_problems
            )
        if held_new:
            shown = ", ".join(held_new[:5]) + (" ..." if len(held_new) > 5 else "")
            report.held_back.append(
                f"{len(held_new)} new {ctx.name} record(s) of {system} held: a reference points to no record "
                f"({shown}); `einklang status` lists them; fix them in {system}"
            )
        # deletions of unlinked records are kept too: a change captured before a crash may
        # still wait for its merge, and the deletion must win over it there
        rows.extend(NewChange(system, native_id, "delete") for native_id in page.deleted_ids)
        if ours:
            _check_state_known(cycle, ctx, system, len(ours))
        report.captured += len(rows) - len(held)
        if (
            not rows
            and not problems
            and page.cursor == cursor
            and not (snapshot_mode and (page.records or page.deleted_ids))
        ):
            continue  # nothing new and the cursor stays: a quiet read writes nothing (no run row)
        cursor = page.cursor
        run_id = cycle.ensure_run() if rows or problems else cycle.run_id
        with cycle.write() as conn:
            # records einklang created whose link a crash lost are linked before they are merged
            _adopt_created(cycle, conn, ctx, system, ours, report)
            changes.insert_changes(conn, run_id, ctx.name, rows)
            changes.mark_changes_processed(conn, settled)
            journal.add_problems(conn, run_id, problems)
            if snapshot_mode:
                changes.save_snapshot(
                    conn, system, ctx.name, {r.native_id: r.version or "" for r in page.records}, list(page.deleted_ids)
                )
            changes.set_cursor(conn, system, ctx.name, page.cursor)
        cycle.fault("captured_page")


def _retry_held(cycle: Cycle, ctx: EntityContext, system: str, held: dict[str, int]) -> dict[str, int]:
    """Read records held for a dangling reference again; those that resolve now are captured.

    Returns the records still held. The referenced record may have come since (a group created
    in the source after the product that names it), which the product's own cursor never shows.
    """
    connector = cycle.connectors[system]
    mapping = ctx.mapping(system)
    modified_field = connector.capabilities(ctx.name).modified_field
    found = connector.get(ctx.name, list(held))
    rows: list[NewChange] = []
    done: list[int] = []
    still: dict[str, int] = {}
    for native_id, change_id in held.items():
        record = found.get(native_id)
        if record is None:  # gone from the source: nothing to create
            done.append(change_id)
            continue
        canonical, problems = mapping.to_canonical(record.fields)
        if any(p.kind == "dangling_reference" for p in problems):
            still[native_id] = change_id
            continue
        modified = record.fields.get(modified_field) if modified_field else None
        rows.append(NewChange(system, native_id, "upsert", record.version, canonical, stamp(modified)))
        done.append(change_id)
    if done:
        with cycle.write() as conn:
            changes.insert_changes(conn, cycle.run_id, ctx.name, rows)
            changes.mark_changes_processed(conn, done)
    return still


def _dangling(entity: str, system: str, native_id: str, field_problems: list[FieldProblem]) -> list[dict[str, Any]]:
    return [
        {
            "kind": p.kind,
            "system": system,
            "entity": entity,
            "native_id": native_id,
            "field": p.field,
            "message": f"{p.reason} (value {p.value!r}); record held, not created without it",
        }
        for p in field_problems
        if p.kind == "dangling_reference"
    ]


def _check_state_known(cycle: Cycle, ctx: EntityContext, system: str, carrying_ids: int) -> None:
    """Records carrying einklang's golden ids, and a state store that knows no record of them: refuse.

    The state store was lost or replaced; the records look loaded. Syncing would treat them as
    new and link them afresh, overwriting one system's edits with another's values (I1).
    """
    with cycle.store.read() as conn:
        if not links.has_golden(conn, ctx.name):
            raise StateLost(ctx.name, system, carrying_ids)


def _adopt_created(
    cycle: Cycle,
    conn: Connection,
    ctx: EntityContext,
    system: str,
    ours: list[tuple[NativeRecord, CanonicalRecord, str]],
    report: EntityReport,
) -> None:
    """Link unlinked records that carry einklang's golden id in the correlation field (I2, I6).

    Such a record is the result of a create whose link a crash (or a lost reply) kept from
    being stored. It is recognised here, from the system's own data, so that it is never
    taken for a new record, not even while the systems holding its counterparts are down.
    The change captured with it is then merged as that golden record's.
    """
    for record, canonical, golden_id in ours:
        found = links.golden_entity_status(conn, golden_id)
        if found is None or found[0] != ctx.name:
            continue  # not (or no longer) a golden record of this entity: handled as new
        if system in links.links_of_golden(conn, golden_id):
            continue  # the golden record has its record here already: this one is new (a copy)
        sent = outbox.sent_create_payload(conn, golden_id, system, sent_only=False)
        # measured against what was sent, so that an edit made there since is a change (I1)
        seen = sent_seen(ctx, system, sent, canonical) if sent is not None else canonical
        links.insert_link(conn, ctx.name, system, golden_id, record.native_id, record.version, seen)
        for outbox_id in outbox.pending_for_golden(conn, golden_id, system, "create"):
            outbox.finish_outbox(conn, outbox_id, "done", native_id=record.native_id)
        journal.audit(
            conn,
            cycle.run_id,
            [
                {
                    "system": system,
                    "entity": ctx.name,
                    "golden_id": golden_id,
                    "native_id": record.native_id,
                    "op": "link",
                    "cause": "created by an interrupted run, found by its correlation id (no second create)",
                }
            ],
        )
        report.linked += 1
        if found[1] != "active":
            follow_removal(cycle, conn, ctx, system, golden_id, record.native_id, record.version, found[1], report)


def sent_seen(ctx: EntityContext, system: str, sent: CanonicalRecord, current: CanonicalRecord) -> CanonicalRecord:
    """What a record einklang created from ``sent`` held right after the create.

    The link's ``seen`` for a record found after an interrupted create: values that differ
    from it now were changed in the system since (by a person, or filled in by the system
    where nothing was sent) and are merged as that system's changes, not overwritten. Fields
    einklang may not write keep what the system holds, unless nothing was sent for them.
    """
    mapping = ctx.mapping(system)
    writable = set(mapping.writable_fields())
    return {
        name: sent.get(name) if name in writable or sent.get(name) is None else current.get(name)
        for name in mapping.canonical_fields
    }


def store_fresh_state(cycle: Cycle, ctx: EntityContext, system: str, native_id: str) -> NewChange:
    """Re-read one record and return its state as a change, so it is merged before any write."""
    return fresh_states(cycle, ctx, system, [native_id])[0]


def fresh_states(cycle: Cycle, ctx: EntityContext, system: str, native_ids: list[str]) -> list[NewChange]:
    """Re-read records (one call) and return their states as changes, a deletion for one that is gone."""
    connector = cycle.connectors[system]
    found = cycle.call(system, lambda: connector.get(ctx.name, native_ids))
    mapping = ctx.mapping(system)
    modified_field = connector.capabilities(ctx.name).modified_field
    states = []
    for native_id in native_ids:
        record = found.get(native_id)
        if record is None:
            states.append(NewChange(system, native_id, "delete"))
            continue
        canonical, _ = mapping.to_canonical(record.fields)
        modified = stamp(record.fields.get(modified_field)) if modified_field else None
        states.append(NewChange(system, native_id, "upsert", record.version, canonical, modified))
    return states

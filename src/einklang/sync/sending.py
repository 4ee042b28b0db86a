"""Apply: each reachable system's outbox is sent in order — creates, then updates and removals.

A create is sent only after looking for a record an interrupted run already created (a create
is never retried blindly). Updates are conditional on the version last seen: a stale version
means the record changed meanwhile, so it is re-read, stored as a change and merged again
before anything is written (never blind). Returns whether something must be merged again.
"""

from __future__ import annotations

from typing import Any

from einklang.connectors.base import Connector, NativeRecord, RecordNotFound, RecordRejected, StaleVersion
from einklang.context import EntityContext
from einklang.mapping import ReferenceNotReady
from einklang.model import CanonicalRecord
from einklang.store import journal, links, outbox
from einklang.store.rows import Link, OutboxEntry
from einklang.sync.breaker import SystemDown
from einklang.sync.capture import sent_seen
from einklang.sync.creates import CreateItem, CreateTarget, native_for_create, record_refusal, send_creates
from einklang.sync.cycle import Cycle, Observation
from einklang.sync.merging import MergeItem, merge_golden, merge_goldens
from einklang.sync.recovery import find_created
from einklang.sync.report import EntityReport
from einklang.sync.update_batch import UpdateBatch, wait_for_reference


def apply_outbox(cycle: Cycle, ctx: EntityContext, system: str, report: EntityReport) -> bool:
    """Send the system's pending writes; True if some record must be merged again first."""
    if not cycle.breakers.allows(system):
        report.unavailable.setdefault(system, cycle.breakers.down_now.get(system) or "circuit open")
        return False
    try:
        _apply_creates(cycle, ctx, system, report)
        return _apply_updates(cycle, ctx, system, report)
    except SystemDown as exc:
        report.unavailable[system] = exc.reason
        return False


# ------------------------------------------------------------------------------ creates


def _apply_creates(cycle: Cycle, ctx: EntityContext, system: str, report: EntityReport) -> None:
    connector = cycle.connectors[system]
    mapping = ctx.mapping(system)
    correlation = connector.capabilities(ctx.name).correlation_field
    if cycle.scope.captures:  # creates an interrupted load had planned (queued by one worker only)
        outbox.expand_create_batches(cycle.store, system, ctx.name)
    after_id = 0
    while True:
        with cycle.store.read() as conn:
            entries = outbox.pending_outbox(conn, system, ctx.name, ("create",), cycle.options.batch_size, after_id)
        if not entries:
            return
        after_id = entries[-1].id
        to_send: list[tuple[OutboxEntry, CanonicalRecord, dict[str, Any]]] = []
        for entry in entries:
            if not cycle.scope.owns(entry.golden_id):
                continue  # another worker's partition (sync/partitions.py)
            with cycle.store.read() as conn:
                linked = links.links_of_golden(conn, entry.golden_id)
                loaded = links.load_golden(conn, entry.golden_id)
            if system in linked or loaded is None or loaded[1] != "active":
                with cycle.write() as conn:
                    outbox.finish_outbox(conn, entry.id, "superseded", "already linked or no longer active")
                continue
            agreed = loaded[0]  # create what is agreed now, not what was agreed when planned
            try:
                native = native_for_create(mapping, correlation, entry.golden_id, agreed)
            except ReferenceNotReady as waiting:
                wait_for_reference(cycle, ctx, system, entry, waiting, report)
                continue

            # a run that died after sending may have created it already (I2), with the key it
            # had then if that has changed since
            def look(e: OutboxEntry = entry, agreed: CanonicalRecord = agreed) -> list[NativeRecord]:
                found = find_created(connector, mapping, ctx.name, e.golden_id, agreed, ctx.keys)
                if not found and any(e.payload.get(k) != agreed.get(k) for k in ctx.keys):
                    found = find_created(connector, mapping, ctx.name, e.golden_id, e.payload, ctx.keys)
                return found

            found: list[NativeRecord] = cycle.call(system, look)
            if found:
                _link_found(cycle, ctx, system, entry, found, report)
            else:
                to_send.append((entry, agreed, native))
        if to_send:
            _send_creates(cycle, ctx, system, to_send, report)


def _link_found(
    cycle: Cycle, ctx: EntityContext, system: str, entry: OutboxEntry, found: list[NativeRecord], report: EntityReport
) -> None:
    golden_id = entry.golden_id
    with cycle.store.read() as conn:
        linked = links.links_by_native(conn, system, ctx.name, [r.native_id for r in found])
    free = [r for r in found if r.native_id not in linked]
    if len(found) == 1 and len(free) == 1:
        canonical, _ = ctx.mapping(system).to_canonical(free[0].fields)
        observed: dict[str, Observation] = {}
        seen = canonical
        if entry.attempts:
            # sent before (a run died): measured against what was sent, edits since are changes
            seen = sent_seen(ctx, system, entry.payload, canonical)
            observed[system] = Observation([], free[0].native_id, free[0].version, canonical, None)
        with cycle.write() as conn:
            links.insert_link(conn, ctx.name, system, golden_id, free[0].native_id, free[0].version, seen)
            outbox.finish_outbox(conn, entry.id, "done", native_id=free[0].native_id)
            journal.audit(
                conn,
                cycle.run_id,
                [
                    {
                        "system": system,
                        "entity": ctx.name,
                        "golden_id": golden_id,
                        "native_id": free[0].native_id,
                        "op": "link",
                        "cause": "found by correlation or key before creating (no second create)",
                    }
                ],
            )
        report.linked += 1
        merge_golden(cycle, ctx, golden_id, observed, [], report)
        return
    message = (
        f"create for {system} not sent: the key matches {len(found)} record(s) "
        f"({', '.join(r.native_id for r in found[:5])}), {len(found) - len(free)} linked to other "
        "golden records (possible duplicate)"
    )
    with cycle.write() as conn:
        outbox.finish_outbox(conn, entry.id, "failed", message)
        journal.add_problems(
            conn,
            cycle.run_id,
            [
                {
                    "kind": "ambiguous_key",
                    "system": system,
                    "entity": ctx.name,
                    "golden_id": golden_id,
                    "message": message,
                }
            ],
        )
    report.failed += 1


def _send_creates(
    cycle: Cycle,
    ctx: EntityContext,
    system: str,
    entries: list[tuple[OutboxEntry, CanonicalRecord, dict[str, Any]]],
    report: EntityReport,
) -> None:
    connector = cycle.connectors[system]
    mapping = ctx.mapping(system)
    with cycle.write() as conn:  # the outbox says what goes out before it does (found again after a crash)
        for entry, agreed, _ in entries:
            outbox.note_sending(conn, entry.id, agreed)
    target = CreateTarget(
        cycle.store,
        connector,
        ctx.name,
        mapping,
        cycle.run_id,
        keep_seen=True,
        call=lambda action: cycle.call(system, action, idempotent=False),
        fault=cycle.fault,
    )
    results = send_creates(
        target,
        [
            CreateItem(entry.golden_id, native, entry.cause, outbox_id=entry.id, payload=agreed)
            for entry, agreed, native in entries
        ],
    )
    report.created += len(results.created)
    report.failed += len(results.refused)
    merged: list[MergeItem] = []
    for done in results.created:  # fields the system could not take as given get planned again
        observed = (
            {}
            if done.observed is None
            else {system: Observation([], done.record.native_id, done.record.version, done.observed, None)}
        )
        merged.append(MergeItem(done.item.golden_id, observed, []))
    if len({item.golden_id for item in merged}) == len(merged):
        merge_goldens(cycle, ctx, merged, report)  # one transaction for the page
    else:  # the same golden record twice: one after the other
        for item in merged:
            merge_goldens(cycle, ctx, [item], report)


# ------------------------------------------------------------------------------ updates and removals


def _apply_updates(cycle: Cycle, ctx: EntityContext, system: str, report: EntityReport) -> bool:
    """Pending updates and removals in outbox order; runs of updates are sent as one batch."""
    connector = cycle.connectors[system]
    replan = False
    after_id = 0
    while True:
        with cycle.store.read() as conn:
            entries = outbox.pending_outbox(
                conn, system, ctx.name, ("update", "delete", "archive"), cycle.options.batch_size, after_id
            )
            linked: dict[str, dict[str, Link]] = {entry.golden_id: {} for entry in entries}
            linked.update(links.links_of_goldens(conn, list(linked)))
        if not entries:
            return replan
        after_id = entries[-1].id
        batch = UpdateBatch(cycle, ctx, system, report)
        for entry in entries:
            if not cycle.scope.owns(entry.golden_id):
                continue  # another worker's partition (sync/partitions.py)
            if entry.golden_id in batch.golden_ids or entry.op != "update":
                # a removal, or a second write to a record of the batch: after what is before it
                replan = batch.send() or replan
                for golden_id in batch.golden_ids:
                    linked.pop(golden_id, None)  # written: read again when needed
                batch = UpdateBatch(cycle, ctx, system, report)
            if entry.golden_id not in linked:
                with cycle.store.read() as conn:
                    linked[entry.golden_id] = links.links_of_golden(conn, entry.golden_id)
            link = linked[entry.golden_id].get(system)
            if link is None:
                batch.superseded.append(entry.id)
            elif entry.op == "update":
                batch.add(entry, link)
            else:
                replan = _send_removal(cycle, ctx, system, entry, link, connector, report) or replan
                linked.pop(entry.golden_id, None)
        replan = batch.send() or replan


def _fail(cycle: Cycle, ctx: EntityContext, system: str, entry: OutboxEntry, error: str, report: EntityReport) -> None:
    with cycle.write() as conn:
        record_refusal(
            conn, cycle.run_id, ctx.name, system, entry.golden_id, entry.native_id, entry.op, entry.id, error
        )
    report.failed += 1


def _send_removal(
    cycle: Cycle,
    ctx: EntityContext,
    system: str,
    entry: OutboxEntry,
    link: Link,
    connector: Connector,
    report: EntityReport,
) -> bool:
    op = entry.op
    cycle.fault("before_delete")
    try:
        if op == "delete":
            cycle.call(system, lambda: connector.delete(ctx.name, link.native_id, link.version))
        else:
            cycle.call(system, lambda: connector.archive(ctx.name, link.native_id, link.version))
    except StaleVersion:
        # the record was edited after the deletion elsewhere: the delete policy still applies,
        # but only to the state now read, so refresh the version and try again next round
        fresh = cycle.call(system, lambda: connector.get(ctx.name, [link.native_id])).get(link.native_id)
        with cycle.write() as conn:
            if fresh is None:
                links.delete_link(conn, system, ctx.name, link.native_id)
                outbox.finish_outbox(conn, entry.id, "done", "already gone")
            else:
                links.save_link(conn, ctx.name, system, link.native_id, fresh.version, link.seen or {}, link.tolerated)
                outbox.count_attempt(conn, entry.id, "stale version; retrying with the fresh one")
        report.stale += 1
        return True
    except RecordNotFound:
        pass
    except RecordRejected as exc:
        _fail(cycle, ctx, system, entry, str(exc), report)
        return False
    with cycle.write() as conn:
        if op == "delete":
            links.delete_link(conn, system, ctx.name, link.native_id)
        outbox.finish_outbox(conn, entry.id, "done")
        journal.audit(
            conn,
            cycle.run_id,
            [
                {
                    "system": system,
                    "entity": ctx.name,
                    "golden_id": entry.golden_id,
                    "native_id": link.native_id,
                    "op": op,
                    "cause": entry.cause,
                }
            ],
        )
    report.deleted += 1
    return False

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
from einklang.model import CanonicalRecord, display
from einklang.store import changes, journal, links, outbox
from einklang.store.rows import Link, OutboxEntry
from einklang.sync.breaker import SystemDown
from einklang.sync.capture import sent_seen, store_fresh_state
from einklang.sync.creates import CreateItem, CreateTarget, native_for_create, record_refusal, send_creates
from einklang.sync.cycle import Cycle, Observation
from einklang.sync.merging import merge_golden
from einklang.sync.recovery import find_created
from einklang.sync.references import reference_reason
from einklang.sync.report import EntityReport


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
                _wait(cycle, ctx, system, entry, waiting, report)
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
    for done in results.created:  # fields the system could not take as given get planned again
        observed = (
            {}
            if done.observed is None
            else {system: Observation([], done.record.native_id, done.record.version, done.observed, None)}
        )
        merge_golden(cycle, ctx, done.item.golden_id, observed, [], report)


# ------------------------------------------------------------------------------ updates and removals


def _apply_updates(cycle: Cycle, ctx: EntityContext, system: str, report: EntityReport) -> bool:
    connector = cycle.connectors[system]
    replan = False
    after_id = 0
    while True:
        with cycle.store.read() as conn:
            entries = outbox.pending_outbox(
                conn, system, ctx.name, ("update", "delete", "archive"), cycle.options.batch_size, after_id
            )
        if not entries:
            return replan
        after_id = entries[-1].id
        for entry in entries:
            if not cycle.scope.owns(entry.golden_id):
                continue  # another worker's partition (sync/partitions.py)
            with cycle.store.read() as conn:
                link = links.links_of_golden(conn, entry.golden_id).get(system)
            if link is None:
                with cycle.write() as conn:
                    outbox.finish_outbox(conn, entry.id, "superseded", "no longer linked")
                continue
            if entry.op == "update":
                replan = _send_update(cycle, ctx, system, entry, link, connector, report) or replan
            else:
                replan = _send_removal(cycle, ctx, system, entry, link, connector, report) or replan


def _wait(
    cycle: Cycle, ctx: EntityContext, system: str, entry: OutboxEntry, waiting: ReferenceNotReady, report: EntityReport
) -> None:
    """A write whose reference is not in ``system`` yet stays pending, with the reason (never sent without it).

    A reference to a record that was deleted or archived will not resolve: the write fails,
    and a problem names the record and the reference (the referenced entity's delete policy
    removed it; a person decides what the record should point to now).
    """
    reason = reference_reason(cycle.references, waiting)
    if waiting.removed:
        with cycle.write() as conn:
            outbox.finish_outbox(conn, entry.id, "failed", reason)
            journal.add_problems(
                conn,
                cycle.run_id,
                [
                    {
                        "kind": "reference_removed",
                        "system": system,
                        "entity": ctx.name,
                        "golden_id": entry.golden_id,
                        "native_id": entry.native_id,
                        "field": waiting.field,
                        "message": f"{entry.op} not sent: {reason}",
                    }
                ],
            )
        report.failed += 1
        return
    if entry.last_error != reason:  # a quiet wait writes nothing
        with cycle.write() as conn:
            outbox.note_waiting(conn, entry.id, reason)
    report.waiting += 1


def _fail(cycle: Cycle, ctx: EntityContext, system: str, entry: OutboxEntry, error: str, report: EntityReport) -> None:
    with cycle.write() as conn:
        record_refusal(
            conn, cycle.run_id, ctx.name, system, entry.golden_id, entry.native_id, entry.op, entry.id, error
        )
    report.failed += 1


def _send_update(
    cycle: Cycle,
    ctx: EntityContext,
    system: str,
    entry: OutboxEntry,
    link: Link,
    connector: Connector,
    report: EntityReport,
) -> bool:
    seen = dict(link.seen or {})
    patch = {k: v for k, v in entry.payload.items() if k not in seen or seen[k] != v}
    if not patch:
        with cycle.write() as conn:
            outbox.finish_outbox(conn, entry.id, "done", "nothing left to write")
        return False
    mapping = ctx.mapping(system)
    # the record as last seen completes the patch: a full-name column rebuilt from one changed
    # part needs the other part, which is not in the patch and must not be taken for empty
    try:
        native_patch = mapping.to_native({**seen, **patch}, only=list(patch))
    except ReferenceNotReady as waiting:
        _wait(cycle, ctx, system, entry, waiting, report)
        return False
    cycle.fault("before_update")
    try:
        record: NativeRecord = cycle.call(
            system, lambda: connector.update(ctx.name, link.native_id, native_patch, link.version)
        )
    except StaleVersion:
        report.stale += 1
        _reread(cycle, ctx, system, entry, link, "changed since it was last read: re-read, merged again")
        return True
    except RecordNotFound:
        _reread(cycle, ctx, system, entry, link, "record no longer exists")
        return True
    except RecordRejected as exc:
        _fail(cycle, ctx, system, entry, str(exc), report)
        return False
    cycle.fault("after_update")
    new_seen = {**seen, **mapping.to_canonical(record.fields)[0]} if record.fields else {**seen, **patch}
    with cycle.write() as conn:
        links.save_link(conn, ctx.name, system, link.native_id, record.version, new_seen, link.tolerated)
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
                    "op": "update",
                    "old": {k: display(seen.get(k)) for k in patch},
                    "new": {k: display(v) for k, v in patch.items()},
                    "cause": entry.cause,
                }
            ],
        )
    report.applied += 1
    return False


def _reread(cycle: Cycle, ctx: EntityContext, system: str, entry: OutboxEntry, link: Link, why: str) -> None:
    """Store the record's fresh state as a change so that it is merged before any write."""
    fresh = store_fresh_state(cycle, ctx, system, link.native_id)
    with cycle.write() as conn:
        changes.insert_changes(conn, cycle.run_id, ctx.name, [fresh])
        outbox.finish_outbox(conn, entry.id, "superseded", why)


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

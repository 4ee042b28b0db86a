"""Updates of one system sent as a batch: prepared, sent in one call, their results in one transaction.

The outbox already holds every entry (write-ahead: the intent is stored before anything is
sent). A batch computes each entry's patch against what its record held when last seen, sends
the batch through ``Connector.update_many`` (conditional on the version last seen, per record),
and then writes the links, outbox results and audit rows of all written records in one
transaction. A record whose version moved (or that is gone) is re-read and stored as a change,
merged again before anything is written to it (never a blind write); a refused record fails
alone. A crash between sending and that transaction leaves the entries pending: they are sent
again, find the version moved by their own write, and are re-read and merged (which then plans
nothing), exactly as a single update would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from einklang.connectors.base import (
    NativeRecord,
    RecordNotFound,
    RecordRejected,
    RecordUpdate,
    StaleVersion,
    UpdateOutcome,
)
from einklang.context import EntityContext
from einklang.mapping import ReferenceNotReady
from einklang.model import CanonicalRecord, display, record_hash
from einklang.store import changes, journal, links, outbox
from einklang.store.rows import Link, OutboxEntry
from einklang.sync.breaker import SystemDown
from einklang.sync.capture import fresh_states
from einklang.sync.creates import record_refusal
from einklang.sync.cycle import Cycle
from einklang.sync.echoes import native_digest
from einklang.sync.references import reference_reason
from einklang.sync.report import EntityReport

STALE = "changed since it was last read: re-read, merged again"
GONE = "record no longer exists"


@dataclass
class _Pending:
    entry: OutboxEntry
    link: Link
    seen: CanonicalRecord
    patch: CanonicalRecord
    native_patch: dict[str, Any]


class UpdateBatch:
    """Outbox updates of one system, each for a different golden record, sent together."""

    def __init__(self, cycle: Cycle, ctx: EntityContext, system: str, report: EntityReport) -> None:
        self.cycle, self.ctx, self.system, self.report = cycle, ctx, system, report
        self.golden_ids: set[str] = set()
        self.superseded: list[int] = []  # entries whose record is no longer linked there
        self.nothing_left: list[int] = []  # entries whose record holds the values already
        self.pending: list[_Pending] = []

    def add(self, entry: OutboxEntry, link: Link) -> None:
        self.golden_ids.add(entry.golden_id)
        seen = dict(link.seen or {})
        patch = {k: v for k, v in entry.payload.items() if k not in seen or seen[k] != v}
        if not patch:
            self.nothing_left.append(entry.id)
            return
        # the record as last seen completes the patch: a full-name column rebuilt from one changed
        # part needs the other part, which is not in the patch and must not be taken for empty
        try:
            native_patch = self.ctx.mapping(self.system).to_native({**seen, **patch}, only=list(patch))
        except ReferenceNotReady as waiting:
            wait_for_reference(self.cycle, self.ctx, self.system, entry, waiting, self.report)
            return
        self.pending.append(_Pending(entry, link, seen, patch, native_patch))

    def send(self) -> bool:
        """Send the batch and record what happened; True if some record must be merged again first."""
        cycle = self.cycle
        outcomes: list[UpdateOutcome] = []
        down: SystemDown | None = None
        if self.pending:
            cycle.fault("before_update")
            connector = cycle.connectors[self.system]
            updates = [RecordUpdate(p.link.native_id, p.native_patch, p.link.version) for p in self.pending]

            def send_the_rest() -> None:  # a retry after an outage resumes after what was written
                for outcome in connector.update_many(self.ctx.name, updates[len(outcomes) :]):
                    outcomes.append(outcome)

            try:
                cycle.call(self.system, send_the_rest)
            except SystemDown as exc:
                down = exc  # what was written before the outage is recorded first
            else:
                cycle.fault("after_update")
        replan = self._record(outcomes)
        self.pending, self.superseded, self.nothing_left = [], [], []  # sent once only
        if down is not None:
            raise down
        return replan

    def _record(self, outcomes: list[UpdateOutcome]) -> bool:
        cycle, ctx, system = self.cycle, self.ctx, self.system
        mapping = ctx.mapping(system)
        applied: list[tuple[_Pending, NativeRecord]] = []
        refused: list[tuple[_Pending, RecordRejected]] = []
        reread: dict[str, tuple[_Pending, str]] = {}  # native id -> (entry, why)
        for pending, outcome in zip(self.pending, outcomes, strict=False):
            if isinstance(outcome, NativeRecord):
                applied.append((pending, outcome))
            elif isinstance(outcome, StaleVersion):
                reread[pending.link.native_id] = (pending, STALE)
            elif isinstance(outcome, RecordNotFound):
                reread[pending.link.native_id] = (pending, GONE)
            else:
                refused.append((pending, outcome))
        if applied or refused or self.superseded or self.nothing_left:
            link_states: list[links.LinkState] = []
            audit: list[dict[str, Any]] = []
            # the written records come back in the next read (echoes): known, they need no mapping then
            memo = cycle.echo_memo if not mapping.reference_fields else None
            for pending, record in applied:
                seen, patch = pending.seen, pending.patch
                if record.fields:
                    written, problems = mapping.to_canonical(record.fields)
                    new_seen = {**seen, **written}
                    if memo is not None and not problems:
                        key = (system, ctx.name, pending.link.native_id)
                        memo.remember(key, native_digest(record.fields), record_hash(written))
                else:
                    new_seen = {**seen, **patch}
                link_states.append((system, pending.link.native_id, record.version, new_seen, pending.link.tolerated))
                audit.append(
                    {
                        "system": system,
                        "entity": ctx.name,
                        "golden_id": pending.entry.golden_id,
                        "native_id": pending.link.native_id,
                        "op": "update",
                        "old": {k: display(seen.get(k)) for k in patch},
                        "new": {k: display(v) for k, v in patch.items()},
                        "cause": pending.entry.cause,
                    }
                )
            with cycle.write() as conn:
                outbox.finish_outbox(conn, self.superseded, "superseded", "no longer linked")
                outbox.finish_outbox(conn, self.nothing_left, "done", "nothing left to write")
                links.save_links(conn, ctx.name, link_states)
                outbox.finish_outbox(conn, [pending.entry.id for pending, _ in applied], "done")
                journal.audit(conn, cycle.run_id, audit)
                for pending, error in refused:
                    entry = pending.entry
                    record_refusal(
                        conn,
                        cycle.run_id,
                        ctx.name,
                        system,
                        entry.golden_id,
                        entry.native_id,
                        entry.op,
                        entry.id,
                        str(error),
                    )
        self.report.applied += len(applied)
        self.report.failed += len(refused)
        self.report.stale += sum(1 for _, why in reread.values() if why == STALE)
        if reread:
            # each record's fresh state is stored as a change, so that it is merged before any write
            fresh = fresh_states(cycle, ctx, system, list(reread))
            with cycle.write() as conn:
                changes.insert_changes(conn, cycle.run_id, ctx.name, fresh)
                for pending, why in reread.values():
                    outbox.finish_outbox(conn, pending.entry.id, "superseded", why)
        return bool(reread)


def wait_for_reference(
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

"""The sync cycle: capture changes, merge them per golden record, plan writes, apply them.

Per entity, one cycle does, each stage in its own module:

1. :mod:`~einklang.sync.decisions`: apply conflict decisions taken since the last cycle;
2. :mod:`~einklang.sync.capture`: read each system's changes from its cursor and store them;
3. merge: pending changes are grouped by golden record and merged
   (:mod:`~einklang.sync.merging`); records not linked yet are linked or created
   (:mod:`~einklang.sync.linking`), deletions follow the entity's policy behind the delete
   guard (:mod:`~einklang.sync.deletes`);
4. :mod:`~einklang.sync.sending`: each reachable system's outbox is sent (creates through
   :mod:`~einklang.sync.creates`); a record that changed meanwhile is merged again first.

Systems that stay unavailable are skipped (their outbox waits) while the others go on. A dry
run performs stages 1–3 against a transaction that is rolled back (:class:`RolledBackStore`)
and reports what they planned; nothing is sent and nothing is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector
from einklang.context import EntityContext
from einklang.store import changes, links
from einklang.store.rows import ChangeRow, Link
from einklang.store.state import StateStore
from einklang.sync.added_systems import fill_added_systems
from einklang.sync.breaker import CircuitBreakers
from einklang.sync.capture import capture
from einklang.sync.cycle import Cycle, EngineOptions, FaultHook, Observation, RolledBackStore, parse_stamp
from einklang.sync.decisions import apply_decisions
from einklang.sync.deletes import handle_delete
from einklang.sync.echoes import EchoMemo
from einklang.sync.linking import handle_new
from einklang.sync.merging import MergeItem, merge_goldens
from einklang.sync.partitions import EVERYTHING, GoldenScope
from einklang.sync.relink import StateLost
from einklang.sync.report import CycleReport, EntityReport, plan_marks, read_plan
from einklang.sync.sending import apply_outbox

__all__ = ["CycleReport", "EngineOptions", "EntityReport", "SyncEngine"]


class SyncEngine:
    def __init__(
        self,
        config: LoadedConfig,
        store: StateStore,
        connectors: Mapping[str, Connector],
        *,
        options: EngineOptions | None = None,
        fault: FaultHook | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.connectors = dict(connectors)
        self.options = options or EngineOptions()
        self.fault = fault or (lambda _point: None)
        self._sleep = sleep
        self.breakers = CircuitBreakers(store, self.options.retry, sleep)
        self.echo_memo = EchoMemo()

    def run_cycle(
        self, dry_run: bool = False, entities: list[str] | None = None, scope: GoldenScope = EVERYTHING
    ) -> CycleReport:
        """``scope``: only these partitions of the golden records (a sync worker's, sync/partitions.py)."""
        # referenced entities first: a product's group is created (and linked) before the product
        names = self.config.model.entity_order(entities or None)
        if dry_run:
            return self._dry_run(names)
        cycle = Cycle(self.config, self.store, self.connectors, self.options, self.breakers, self.fault, scope=scope)
        cycle.echo_memo = self.echo_memo
        return self._run(cycle, names)

    def _run(self, cycle: Cycle, names: list[str]) -> CycleReport:
        started = time.perf_counter()
        cycle.breakers.new_cycle()
        report = CycleReport(cycle.dry_run)
        status = "failed"
        try:
            for entity in names:
                report.entities.append(self._sync_entity(cycle, cycle.context(entity)))
            status = "ok"
        finally:
            report.seconds = time.perf_counter() - started
            report.run_id = None if cycle.dry_run else cycle.run_id
            if cycle.run_id is not None and status == "ok" and not cycle.dry_run:
                # only cycles that did work purge, so a quiet cycle still writes nothing
                with cycle.store.transaction() as conn:
                    changes.purge_processed_changes(conn, self.options.keep_changes)
            if cycle.run_id is not None:
                cycle.store.finish_run(cycle.run_id, status, report.as_dict() if status == "ok" else {})
        return report

    def _dry_run(self, names: list[str]) -> CycleReport:
        """The cycle's stages up to the plan, in one transaction that is rolled back; nothing is sent."""
        with self.store.engine.connect() as conn:
            transaction = conn.begin()
            try:
                store = RolledBackStore(self.store, conn)
                marks = plan_marks(conn)
                breakers = CircuitBreakers(store, self.options.retry, self._sleep)
                cycle = Cycle(self.config, store, self.connectors, self.options, breakers, self.fault, dry_run=True)
                cycle.echo_memo = self.echo_memo
                report = self._run(cycle, names)
                for entity_report in report.entities:
                    entity_report.plan = read_plan(conn, marks, entity_report.entity)
            finally:
                transaction.rollback()
        return report

    def _sync_entity(self, cycle: Cycle, ctx: EntityContext) -> EntityReport:
        report = EntityReport(ctx.name)
        apply_decisions(cycle, ctx, report)
        fill_added_systems(cycle, ctx, report)  # before capture: the fill sets an empty target's cursor
        try:
            for system in cycle.systems(ctx) if cycle.scope.captures else ():
                capture(cycle, ctx, system, report)
        except StateLost as lost:
            report.held_back.append(str(lost))
            return report
        process_changes(cycle, ctx, report)
        if cycle.dry_run:
            return report
        for _ in range(self.options.replan_rounds):
            replan = False
            for system in cycle.systems(ctx):
                replan = apply_outbox(cycle, ctx, system, report) or replan
            if not replan:
                break
            process_changes(cycle, ctx, report)
        return report


def process_changes(cycle: Cycle, ctx: EntityContext, report: EntityReport) -> None:
    """Merge every pending change of the entity, page by page.

    The one place where pending changes are selected (``changes.pending_changes``): a page is
    read, merged in memory and written in one transaction (``merging.merge_goldens``).
    """
    include_deletes = _deletes_allowed(cycle, ctx, report)
    after_id = 0
    while True:
        with cycle.store.read() as conn:
            rows = changes.pending_changes(conn, ctx.name, after_id, cycle.options.batch_size, include_deletes)
        if not rows:
            return
        after_id = max(r.id for r in rows)
        _process_batch(cycle, ctx, rows, report)


def _deletes_allowed(cycle: Cycle, ctx: EntityContext, report: EntityReport) -> bool:
    """The delete guard: more deletions than ``delete_guard`` of the records wait for confirmation."""
    sync = ctx.sync
    if sync.deletes not in ("propagate", "archive") or cycle.options.confirm_deletes:
        return True
    with cycle.store.read() as conn:
        deletes = changes.count_pending_deletes(conn, ctx.name)
        if not deletes:
            return True
        total = max(links.count_golden(conn, ctx.name), 1)
    if deletes <= sync.delete_guard * total:
        return True
    report.held_back.append(
        f"delete guard: {deletes} deletion(s) of {total} {ctx.name} record(s) exceed {sync.delete_guard:.0%}; "
        "nothing deleted. Check, then run `einklang sync --once --confirm-deletes`"
    )
    return False


def _process_batch(cycle: Cycle, ctx: EntityContext, rows: list[ChangeRow], report: EntityReport) -> None:
    """The latest change per record: linked records merged per golden record, then new records."""
    latest: dict[tuple[str, str], ChangeRow] = {}
    ids: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        key = (row.system, row.native_id)
        latest[key] = row
        ids.setdefault(key, []).append(row.id)
    by_system: dict[str, list[str]] = {}
    for system, native_id in latest:
        by_system.setdefault(system, []).append(native_id)
    found: dict[tuple[str, str], Link] = {}
    with cycle.store.read() as conn:
        for system, native_ids in by_system.items():
            for native_id, link in links.links_by_native(conn, system, ctx.name, native_ids).items():
                found[(system, native_id)] = link
    groups: dict[str, dict[str, Observation]] = {}
    group_ids: dict[str, list[int]] = {}
    unlinked: list[tuple[ChangeRow, list[int]]] = []
    for key, row in latest.items():
        found_link = found.get(key)
        if not cycle.scope.owns(found_link.golden_id if found_link else None):
            continue  # another worker's partition (sync/partitions.py)
        if row.kind == "delete":
            if found_link is None:
                with cycle.write() as conn:
                    changes.mark_changes_processed(conn, ids[key])
            else:
                handle_delete(cycle, ctx, row, found_link, ids[key], report)
            continue
        assert row.record is not None
        if found_link is None:
            unlinked.append((row, ids[key]))
            continue
        groups.setdefault(found_link.golden_id, {})[row.system] = Observation(
            ids[key], row.native_id, row.version, row.record, parse_stamp(row.source_modified)
        )
        group_ids.setdefault(found_link.golden_id, []).extend(ids[key])
    merge_goldens(
        cycle,
        ctx,
        [MergeItem(golden_id, observations, group_ids[golden_id]) for golden_id, observations in groups.items()],
        report,
    )
    for row, change_ids in unlinked:
        handle_new(cycle, ctx, row, change_ids, report)

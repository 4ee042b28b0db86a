"""The sync cycle: capture changes, merge them per golden record, plan writes, apply them.

Per entity, one cycle does:

1. apply conflict decisions taken since the last cycle (``einklang conflicts resolve``);
2. *capture*: read each system's changes from its cursor; each page is stored in the
   ``changes`` table and the cursor advanced in the same transaction (so a crash loses nothing
   and reading again only repeats work). Echoes of einklang's own writes are recognised by the
   link's record hash and dropped here; an unlinked record carrying einklang's golden id in the
   correlation field (a create whose link a crash lost) is linked to that golden record here;
3. *merge*: pending changes are grouped by golden record and merged (``merge.merge_record``);
   base, links, conflicts, audit and the planned writes (outbox) of one golden record are
   written in one transaction. New records are linked by key (found in the other systems, or
   the key of a golden record whose create in the record's own system is pending) or planned
   for creation; deletions follow the entity's policy behind the delete guard, and a record
   linked to a golden record after its deletion gets the same removal;
4. *apply*: each reachable system's outbox is sent in order: creates (after looking for a
   record an interrupted run already created; a create is never retried blindly), then updates
   conditional on the version last seen. A stale version means the record changed meanwhile:
   it is re-read, stored as a change and merged again before anything is written (never blind).

Systems that stay unavailable are skipped (their outbox waits) while the others go on.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from einklang.config import LoadedConfig
from einklang.connectors.base import (
    ChangeDetection,
    Connector,
    NativeRecord,
    RecordNotFound,
    RecordRejected,
    StaleVersion,
)
from einklang.mapping import EntityMapping
from einklang.model import (
    CanonicalRecord,
    CanonicalValue,
    EntitySpec,
    coerce,
    display,
    encode,
    record_hash,
)
from einklang.store.state import StateStore
from einklang.sync import state_ops as ops
from einklang.sync.breaker import CircuitBreakers, RetrySettings, SystemDown
from einklang.sync.matching import best_matches
from einklang.sync.merge import MergeResult, SystemView, merge_record
from einklang.sync.policies import EntityPolicy
from einklang.sync.recovery import find_created
from einklang.sync.settings import entity_policy

FaultHook = Callable[[str], None]


@dataclass(frozen=True)
class EngineOptions:
    retry: RetrySettings = field(default_factory=RetrySettings)
    batch_size: int = 500
    replan_rounds: int = 3
    confirm_deletes: bool = False  # let this cycle exceed the delete guard
    keep_changes: dt.timedelta = dt.timedelta(days=7)  # processed captured changes are kept this long


@dataclass
class EntityReport:
    entity: str
    captured: int = 0
    echoes: int = 0
    merged: int = 0
    updates_planned: int = 0
    creates_planned: int = 0
    deletes_planned: int = 0
    linked: int = 0
    conflicts: int = 0
    violations: int = 0
    applied: int = 0
    created: int = 0
    deleted: int = 0
    stale: int = 0
    failed: int = 0
    resolved: int = 0
    unavailable: dict[str, str] = field(default_factory=dict)
    held_back: list[str] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.captured or self.merged or self.applied or self.created or self.deleted or self.resolved
                    or self.failed or self.stale)

    def as_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in self.__dict__.items() if key != "plan"}
        data["plan"] = self.plan
        return data


@dataclass
class CycleReport:
    dry_run: bool
    run_id: int | None = None
    entities: list[EntityReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def busy(self) -> bool:
        return any(e.busy for e in self.entities)

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "run_id": self.run_id, "seconds": round(self.seconds, 4),
                "entities": [e.as_dict() for e in self.entities]}


@dataclass
class _Observation:
    change_ids: list[int]
    native_id: str
    version: str | None
    record: CanonicalRecord
    modified: dt.datetime | None


class SyncEngine:
    def __init__(
        self, config: LoadedConfig, store: StateStore, connectors: Mapping[str, Connector], *,
        options: EngineOptions | None = None, fault: FaultHook | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.connectors = dict(connectors)
        self.options = options or EngineOptions()
        self.fault = fault or (lambda _point: None)
        self.breakers = CircuitBreakers(store, self.options.retry, sleep)
        self._run_id: int | None = None
        self._dry_run = False
        self._mappings: dict[tuple[str, str], EntityMapping] = {}
        self._policies: dict[str, EntityPolicy] = {}
        self._dry_changes: list[ops.ChangeRow] = []
        self._plan_sink: list[dict[str, Any]] = []
        self._fuzzy_cache: dict[tuple[str, str], dict[str, CanonicalRecord]] = {}
        # (entity, system) -> (key field, value) -> golden ids with a pending create there
        self._pending_creates: dict[tuple[str, str], dict[tuple[str, str], set[str]]] = {}

    # ------------------------------------------------------------------ helpers
    def mapping(self, entity: str, system: str) -> EntityMapping:
        key = (entity, system)
        if key not in self._mappings:
            self._mappings[key] = self.config.mapping(entity, system)
        return self._mappings[key]

    def policy(self, entity: str) -> EntityPolicy:
        if entity not in self._policies:
            self._policies[entity] = entity_policy(self.config.entity(entity).sync)
        return self._policies[entity]

    def systems(self, entity: str) -> list[str]:
        return [s for s in self.config.systems_of(entity) if s in self.connectors]

    def run_id(self) -> int | None:
        """The run row is created on first need so a quiet cycle writes nothing."""
        if self._dry_run:
            return None
        if self._run_id is None:
            self._run_id = self.store.start_run("sync", None, {})
        return self._run_id

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; the run row is made first (on its own connection: SQLite has one writer)."""
        self.run_id()
        with self.store.transaction() as conn:
            yield conn

    def _call(self, system: str, action: Callable[[], Any], idempotent: bool = True) -> Any:
        return self.breakers.call(system, action, idempotent)

    # ------------------------------------------------------------------ cycle
    def run_cycle(self, dry_run: bool = False, entities: list[str] | None = None) -> CycleReport:
        started = time.perf_counter()
        self._dry_run = dry_run
        self._run_id = None
        self._dry_changes = []
        self._fuzzy_cache = {}
        self._pending_creates = {}
        self.breakers.new_cycle()
        report = CycleReport(dry_run)
        status = "failed"
        try:
            for entity in entities or list(self.config.model.entities):
                report.entities.append(self.sync_entity(entity))
            status = "ok"
        finally:
            report.seconds = time.perf_counter() - started
            report.run_id = self._run_id
            if self._run_id is not None and status == "ok":
                # only cycles that did work purge, so a quiet cycle still writes nothing
                with self.store.transaction() as conn:
                    ops.purge_processed_changes(conn, self.options.keep_changes)
            if self._run_id is not None:
                self.store.finish_run(self._run_id, status, report.as_dict() if status == "ok" else {})
        return report

    def sync_entity(self, entity: str) -> EntityReport:
        report = EntityReport(entity)
        self._plan_sink = report.plan
        if not self._dry_run:
            self._apply_decisions(entity, report)
        for system in self.systems(entity):
            self._capture(entity, system, report)
        self._process_changes(entity, report)
        if self._dry_run:
            return report
        for _ in range(self.options.replan_rounds):
            replan = False
            for system in self.systems(entity):
                replan = self._apply_outbox(entity, system, report) or replan
            if not replan:
                break
            self._process_changes(entity, report)
        return report

    # ------------------------------------------------------------------ capture
    def _capture(self, entity: str, system: str, report: EntityReport) -> None:
        if not self.breakers.allows(system):
            report.unavailable[system] = self.breakers.down_now.get(system) or "circuit open"
            return
        try:
            self._call(system, lambda: self._capture_pages(entity, system, report))
        except SystemDown as exc:
            report.unavailable[system] = exc.reason

    def _capture_pages(self, entity: str, system: str, report: EntityReport) -> None:
        connector = self.connectors[system]
        mapping = self.mapping(entity, system)
        capabilities = connector.capabilities(entity)
        changed_field = capabilities.modified_field
        snapshot_mode = capabilities.change_detection is ChangeDetection.SNAPSHOT
        correlation = capabilities.correlation_field
        cursor = self.store.get_cursor(system, entity)
        snapshots = self.store.snapshot_store(system, entity) if snapshot_mode else None
        for page in connector.read_changes(entity, cursor, snapshots):
            ids = [r.native_id for r in page.records] + list(page.deleted_ids)
            with self.store.engine.connect() as conn:
                known = ops.link_hashes(conn, system, entity, ids)
            rows: list[dict[str, Any]] = []
            problems: list[dict[str, Any]] = []
            ours: list[tuple[NativeRecord, CanonicalRecord, str]] = []
            for record in page.records:
                canonical, field_problems = mapping.to_canonical(record.fields)
                if record.native_id in known and known[record.native_id] == record_hash(canonical):
                    report.echoes += 1
                    continue
                if correlation and record.native_id not in known and record.fields.get(correlation):
                    ours.append((record, canonical, str(record.fields[correlation])))
                modified = record.fields.get(str(changed_field)) if changed_field else None
                rows.append({"system": system, "native_id": record.native_id, "kind": "upsert",
                             "version": record.version, "record": canonical,
                             "source_modified": _stamp(modified)})
                problems.extend({"kind": "invalid_value", "system": system, "entity": entity,
                                 "native_id": record.native_id, "field": p.field,
                                 "message": f"{p.reason} (value {p.value!r}); field not synced"}
                                for p in field_problems)
            # deletions of unlinked records are kept too: a change captured before a crash may
            # still wait for its merge, and the deletion must win over it there
            rows.extend({"system": system, "native_id": native_id, "kind": "delete"} for native_id in page.deleted_ids)
            report.captured += len(rows)
            if self._dry_run:
                self._dry_changes.extend(
                    ops.ChangeRow(-len(self._dry_changes) - 1, r["system"], r["native_id"], r["kind"],
                                  r.get("version"), r.get("record"), r.get("source_modified")) for r in rows)
                continue
            if not rows and not problems and page.cursor == cursor and not (
                    snapshot_mode and (page.records or page.deleted_ids)):
                continue  # nothing new and the cursor stays: a quiet read writes nothing (no run row)
            cursor = page.cursor
            run_id = self.run_id() if rows or problems else self._run_id
            with self._write() as conn:
                # records einklang created whose link a crash lost are linked before they are merged
                self._adopt_created(conn, entity, system, ours, report)
                ops.insert_changes(conn, run_id, entity, rows)
                if problems:
                    self.store.add_problems(conn, run_id, problems)
                if snapshot_mode:
                    self.store.save_snapshot(conn, system, entity,
                                             {r.native_id: r.version or "" for r in page.records},
                                             list(page.deleted_ids))
                self.store.set_cursor(conn, system, entity, page.cursor)
            self.fault("captured_page")

    def _adopt_created(self, conn: Connection, entity: str, system: str,
                       ours: list[tuple[NativeRecord, CanonicalRecord, str]], report: EntityReport) -> None:
        """Link unlinked records that carry einklang's golden id in the correlation field (I2, I6).

        Such a record is the result of a create whose link a crash (or a lost reply) kept from
        being stored. It is recognised here, from the system's own data, so that it is never
        taken for a new record, not even while the systems holding its counterparts are down.
        The change captured with it is then merged as that golden record's.
        """
        for record, canonical, golden_id in ours:
            found = ops.golden_entity_status(conn, golden_id)
            if found is None or found[0] != entity:
                continue  # not (or no longer) a golden record of this entity: handled as new
            links = ops.links_of_golden(conn, golden_id)
            if system in links:
                continue  # the golden record has its record here already: this one is new (a copy)
            sent = ops.sent_create_payload(conn, golden_id, system, sent_only=False)
            # measured against what was sent, so that an edit made there since is a change (I1)
            seen = self._sent_seen(entity, system, sent, canonical) if sent is not None else canonical
            ops.insert_link(conn, entity, system, golden_id, record.native_id, record.version, seen)
            for outbox_id in ops.pending_for_golden(conn, golden_id, system, "create"):
                ops.finish_outbox(conn, outbox_id, "done", native_id=record.native_id)
            self.store.audit(conn, self.run_id(), [{
                "system": system, "entity": entity, "golden_id": golden_id, "native_id": record.native_id,
                "op": "link", "cause": "created by an interrupted run, found by its correlation id (no second "
                                       "create)"}])
            report.linked += 1
            if found[1] != "active":
                self._follow_removal(conn, entity, system, golden_id, record.native_id, record.version, found[1],
                                     report)

    def _sent_seen(self, entity: str, system: str, sent: CanonicalRecord,
                   current: CanonicalRecord) -> CanonicalRecord:
        """What a record einklang created from ``sent`` held right after the create.

        The link's ``seen`` for a record found after an interrupted create: values that differ
        from it now were changed in the system since (by a person, or filled in by the system
        where nothing was sent) and are merged as that system's changes, not overwritten. Fields
        einklang may not write keep what the system holds, unless nothing was sent for them.
        """
        mapping = self.mapping(entity, system)
        writable = set(mapping.writable_fields())
        return {name: sent.get(name) if name in writable or sent.get(name) is None else current.get(name)
                for name in mapping.canonical_fields}

    def _follow_removal(self, conn: Connection, entity: str, system: str, golden_id: str, native_id: str,
                        version: str | None, status: str, report: EntityReport) -> bool:
        """A record linked to a golden record that was deleted or archived meanwhile.

        Under the ``propagate`` and ``archive`` policies the removal reaches it too (it is a
        counterpart found late: an interrupted create's result, or a record with the key of one
        being deleted), so nothing stays linked to a removed golden record. Under ``ignore`` and
        ``manual`` a removal never spreads, so the golden record comes back with the record kept
        here. Returns True when a removal was planned.
        """
        policy = self.config.entity(entity).sync.deletes
        if policy in ("propagate", "archive"):
            op = "delete" if policy == "propagate" else "archive"
            cause = f"golden record {status} (deletes: {policy}); this {system} record was linked afterwards"
            ops.add_outbox(conn, self.run_id(), entity, system, golden_id, native_id, op, {}, cause, version)
            report.deletes_planned += 1
            return True
        self.store.set_golden_status(conn, golden_id, "active")
        return False

    # ------------------------------------------------------------------ merge
    def _process_changes(self, entity: str, report: EntityReport) -> None:
        sync = self.config.entity(entity).sync
        include_deletes = True
        if sync.deletes in ("propagate", "archive") and not self.options.confirm_deletes:
            with self.store.engine.connect() as conn:
                deletes = ops.count_pending_deletes(conn, entity) + sum(
                    1 for c in self._dry_changes if c.kind == "delete")
                if deletes:
                    total = max(self.store.count_golden(entity), 1)
                    if deletes > sync.delete_guard * total:
                        include_deletes = False
                        report.held_back.append(
                            f"delete guard: {deletes} deletion(s) of {total} {entity} record(s) exceed "
                            f"{sync.delete_guard:.0%}; nothing deleted. Check, then run `einklang sync --once "
                            "--confirm-deletes`")
        after_id = 0
        while True:
            with self.store.engine.connect() as conn:
                rows = ops.pending_changes(conn, entity, after_id, self.options.batch_size, include_deletes)
            if self._dry_run and after_id == 0:
                rows = rows + [c for c in self._dry_changes if include_deletes or c.kind != "delete"]
            if not rows:
                return
            after_id = max(r.id for r in rows)
            self._process_batch(entity, rows, report)
            if self._dry_run:
                return

    def _process_batch(self, entity: str, rows: list[ops.ChangeRow], report: EntityReport) -> None:
        latest: dict[tuple[str, str], ops.ChangeRow] = {}
        ids: dict[tuple[str, str], list[int]] = {}
        for row in rows:
            key = (row.system, row.native_id)
            latest[key] = row
            ids.setdefault(key, []).append(row.id)
        by_system: dict[str, list[str]] = {}
        for system, native_id in latest:
            by_system.setdefault(system, []).append(native_id)
        links: dict[tuple[str, str], ops.LinkState] = {}
        with self.store.engine.connect() as conn:
            for system, native_ids in by_system.items():
                for native_id, link in ops.links_by_native(conn, system, entity, native_ids).items():
                    links[(system, native_id)] = link
        groups: dict[str, dict[str, _Observation]] = {}
        group_ids: dict[str, list[int]] = {}
        unlinked: list[tuple[ops.ChangeRow, list[int]]] = []
        for key, row in latest.items():
            found_link = links.get(key)
            if row.kind == "delete":
                if found_link is None:
                    self._mark_processed(ids[key])
                else:
                    self._handle_delete(entity, row, found_link, ids[key], report)
                continue
            assert row.record is not None
            if found_link is None:
                unlinked.append((row, ids[key]))
                continue
            groups.setdefault(found_link.golden_id, {})[row.system] = _Observation(
                ids[key], row.native_id, row.version, row.record, _parse_stamp(row.source_modified))
            group_ids.setdefault(found_link.golden_id, []).extend(ids[key])
        for golden_id, observations in groups.items():
            self._merge_golden(entity, golden_id, observations, group_ids[golden_id], report)
        for row, change_ids in unlinked:
            self._handle_new(entity, row, change_ids, report)

    def _mark_processed(self, change_ids: list[int]) -> None:
        if self._dry_run or not change_ids:
            return
        with self._write() as conn:
            ops.mark_changes_processed(conn, change_ids)

    def _views(self, entity: str, base: CanonicalRecord, links: Mapping[str, ops.LinkState],
               observations: Mapping[str, _Observation]) -> list[SystemView]:
        views = []
        for system in self.systems(entity):
            link = links.get(system)
            if link is None:
                continue
            mapping = self.mapping(entity, system)
            mapped = frozenset(mapping.canonical_fields)
            seen = link.seen if link.seen is not None else {k: v for k, v in base.items() if k in mapped}
            observed = observations.get(system)
            views.append(SystemView(
                system, mapped, seen, observed.record if observed else None,
                observed.modified if observed else None, link.tolerated, frozenset(mapping.writable_fields())))
        return views

    def _merge_golden(self, entity: str, golden_id: str, observations: Mapping[str, _Observation],
                      change_ids: list[int], report: EntityReport, cause_prefix: str = "") -> None:
        """Merge one golden record and persist everything it leads to in one transaction."""
        if self._dry_run:
            with self.store.engine.connect() as conn:
                self._merge_in(conn, entity, golden_id, observations, change_ids, report, cause_prefix)
            return
        with self._write() as conn:
            self._merge_in(conn, entity, golden_id, observations, change_ids, report, cause_prefix)
        self.fault("merged_golden")

    def _merge_in(self, conn: Any, entity: str, golden_id: str, observations: Mapping[str, _Observation],
                  change_ids: list[int], report: EntityReport, cause_prefix: str) -> None:
        loaded = ops.load_golden(conn, golden_id)
        dry = self._dry_run
        if loaded is None or loaded[1] != "active":
            if not dry:
                ops.mark_changes_processed(conn, change_ids)
            return
        base, _ = loaded
        links = ops.links_of_golden(conn, golden_id)
        held_rows = ops.held_conflicts(conn, golden_id)
        views = self._views(entity, base, links, observations)
        result = merge_record(base, views, self.policy(entity), {f: c.values for f, c in held_rows.items()})
        report.merged += 1 if observations else 0
        report.conflicts += len(result.conflicts)
        report.violations += sum(1 for d in result.decisions if d.kind == "violation")
        report.updates_planned += len(result.writes)
        if dry:
            self._plan_entries(entity, golden_id, links, result)
            return
        run_id = self.run_id()
        if result.base != base:
            ops.save_golden(conn, golden_id, result.base)
        for view in views:
            link = links[view.system]
            observed = observations.get(view.system)
            seen = result.seen[view.system]
            tolerated = result.tolerated[view.system]
            if observed is not None or seen != (link.seen or {}) or tolerated != link.tolerated:
                ops.save_link(conn, entity, view.system, link.native_id,
                              observed.version if observed else link.version, seen, tolerated)
        for conflict in result.conflicts:
            ops.insert_conflict(conn, entity, golden_id, conflict.field, conflict.base, conflict.values,
                                conflict.reason)
        for name, values in result.held.items():
            if name in held_rows and values != held_rows[name].values:
                ops.update_conflict_values(conn, held_rows[name].id, values)
        for name, value in result.settled.items():
            ops.close_conflict(conn, held_rows[name].id, {"settled": display(value), "by": "systems agreed"})
        audit = [
            {"system": d.system, "entity": entity, "golden_id": golden_id, "op": "decision",
             "old": {d.field: display(d.old)}, "new": {d.field: display(d.new)},
             "cause": cause_prefix + d.reason}
            for d in result.decisions if d.kind != "change"
        ]
        self.store.audit(conn, run_id, audit)
        self.store.add_problems(conn, run_id, [
            {"kind": "violation", "system": d.system, "entity": entity, "golden_id": golden_id,
             "native_id": links[d.system].native_id if d.system in links else None, "field": d.field,
             "message": d.reason}
            for d in result.decisions if d.kind == "violation"])
        for view in views:  # the new plan is the whole desired state: older pending updates go
            ops.supersede_pending(conn, view.system, golden_id, ("update",), "replaced by a newer plan")
        for system, patch in result.writes.items():
            reasons = result.write_reasons[system]
            cause = cause_prefix + "; ".join(dict.fromkeys(reasons[name] for name in sorted(patch)))
            ops.add_outbox(conn, run_id, entity, system, golden_id, links[system].native_id, "update", patch,
                           cause, links[system].version)
        ops.mark_changes_processed(conn, change_ids)

    def _plan_entries(self, entity: str, golden_id: str, links: Mapping[str, ops.LinkState],
                      result: MergeResult) -> None:
        report_plan = self._plan_sink
        for conflict in result.conflicts:
            report_plan.append({"action": "conflict", "entity": entity, "golden_id": golden_id,
                                "field": conflict.field, "reason": conflict.reason,
                                "values": {s: display(v) for s, v in conflict.values.items()}})
        for decision in result.decisions:
            if decision.kind == "violation":
                report_plan.append({"action": "violation", "entity": entity, "golden_id": golden_id,
                                    "system": decision.system, "field": decision.field, "reason": decision.reason})
        for system, patch in result.writes.items():
            report_plan.append({"action": "update", "entity": entity, "system": system,
                                "native_id": links[system].native_id, "golden_id": golden_id,
                                "values": {k: display(v) for k, v in patch.items()},
                                "cause": "; ".join(dict.fromkeys(result.write_reasons[system].values()))})

    # ------------------------------------------------------------------ new records
    def _key_criteria(self, entity: str, system: str, record: CanonicalRecord) -> list[dict[str, Any]]:
        """Native lookup criteria per key field, in the configured order."""
        criteria = []
        mapping = self.mapping(entity, system)
        for key in self.config.entity(entity).keys:
            if record.get(key) is None or key not in mapping.canonical_fields:
                continue
            native = mapping.to_native({key: record[key]}, only=[key])
            if native and all(value is not None for value in native.values()):
                criteria.append(native)
        return criteria

    def _lookup(self, entity: str, system: str, record: CanonicalRecord) -> list[NativeRecord]:
        connector = self.connectors[system]
        for criteria in self._key_criteria(entity, system, record):
            def find(c: dict[str, Any] = criteria) -> list[NativeRecord]:
                return connector.find(entity, c)

            found: list[NativeRecord] = self._call(system, find)
            if found:
                return found
        return []

    def _handle_new(self, entity: str, row: ops.ChangeRow, change_ids: list[int], report: EntityReport) -> None:
        assert row.record is not None
        source = row.system
        with self.store.engine.connect() as conn:
            existing = ops.links_by_native(conn, source, entity, [row.native_id]).get(row.native_id)
        if existing is not None:  # linked meanwhile (found by key while handling another new record)
            self._merge_golden(entity, existing.golden_id, {source: _Observation(
                change_ids, row.native_id, row.version, row.record, _parse_stamp(row.source_modified))},
                change_ids, report)
            return
        record = row.record
        # look the record up by key in every other reachable system
        found: dict[str, list[NativeRecord]] = {}
        unreachable: list[str] = []
        for system in self.systems(entity):
            if system == source:
                continue
            if not self.config.entity(entity).keys:
                found[system] = []
                continue
            try:
                found[system] = self._lookup(entity, system, record)
            except SystemDown:
                unreachable.append(system)
        with self.store.engine.connect() as conn:
            found_links = {system: ops.links_by_native(conn, system, entity, [r.native_id for r in records])
                           for system, records in found.items()}
        goldens = {link.golden_id for links in found_links.values() for link in links.values()}
        # A golden record waiting for its create in the source is what the new record is when
        # the key says so: the result of an interrupted create, or the same thing made there by
        # hand meanwhile. The state store knows it even while the systems linked to it are down.
        goldens |= self._pending_create_matches(entity, source, record)
        if len(goldens) > 1:
            self._problem_and_skip(entity, row, change_ids, "ambiguous_key",
                                   f"new record's key matches {len(goldens)} different linked records; not synced")
            return
        if goldens:
            self._attach(entity, row, change_ids, goldens.pop(), report)
            return
        if not any(found.values()) and self._fuzzy_match(entity, row, change_ids, report):
            return
        # checked only now: a new record lacking a required value may still be one that exists
        spec = self.config.entity_spec(entity)
        missing = [n for n, f in spec.fields.items() if f.required and record.get(n) is None
                   and n in self.mapping(entity, source).canonical_fields]
        if missing:
            self._problem_and_skip(entity, row, change_ids, "invalid_value",
                                   f"new record not synced: required field(s) empty: {', '.join(missing)}")
            return
        plan_create: list[str] = []
        link_to: dict[str, NativeRecord] = {}
        problems: list[str] = []
        create_in = self.config.entity(entity).sync.create_in
        for system, records in found.items():
            if len(records) == 1:
                link_to[system] = records[0]
            elif len(records) > 1:
                problems.append(f"{system}: key matches {len(records)} records "
                                f"({', '.join(r.native_id for r in records[:5])}); not linked, not created")
            elif create_in is None or system in create_in:
                plan_create.append(system)
        plan_create.extend(s for s in unreachable if create_in is None or s in create_in)
        if self._dry_run:
            for system, target in link_to.items():
                self._plan_sink.append({"action": "link", "entity": entity, "system": system,
                                        "native_id": target.native_id, "source": source,
                                        "source_id": row.native_id})
            for system in plan_create:
                self._plan_sink.append({"action": "create", "entity": entity, "system": system, "source": source,
                                        "source_id": row.native_id,
                                        "values": {k: display(v) for k, v in record.items() if v is not None}})
            report.creates_planned += len(plan_create)
            return
        base = dict(record)
        linked_seen: dict[str, CanonicalRecord] = {}
        for system, target in link_to.items():
            canonical, _ = self.mapping(entity, system).to_canonical(target.fields)
            linked_seen[system] = canonical
            for name, value in canonical.items():  # a value only the found record has is kept, not wiped
                if base.get(name) is None and value is not None:
                    base[name] = value
        run_id = self.run_id()
        with self._write() as conn:
            golden_id = self.store.insert_golden(conn, entity, [base])[0]
            for system in plan_create:
                self._index_pending_create(entity, system, golden_id, base)
            for (cached_entity, system), candidates in self._fuzzy_cache.items():
                # a record new elsewhere in this same cycle may be this one: let the matcher see it
                if cached_entity == entity and system != source and system not in link_to:
                    candidates[golden_id] = base
            ops.insert_link(conn, entity, source, golden_id, row.native_id, row.version, record)
            audit: list[dict[str, Any]] = [{"system": source, "entity": entity, "golden_id": golden_id,
                                            "native_id": row.native_id, "op": "link",
                                            "cause": f"new record in {source}"}]
            for system, target in link_to.items():
                ops.insert_link(conn, entity, system, golden_id, target.native_id, target.version,
                                linked_seen[system])
                audit.append({"system": system, "entity": entity, "golden_id": golden_id,
                              "native_id": target.native_id, "op": "link",
                              "cause": f"same key as new {source} record {row.native_id}"})
            for system in plan_create:
                ops.add_outbox(conn, run_id, entity, system, golden_id, None, "create", base,
                               f"new record in {source} ({row.native_id})")
            self.store.audit(conn, run_id, audit)
            if problems:
                self.store.add_problems(conn, run_id, [
                    {"kind": "ambiguous_key", "system": source, "entity": entity, "native_id": row.native_id,
                     "golden_id": golden_id, "message": message} for message in problems])
            ops.mark_changes_processed(conn, change_ids)
        report.linked += len(link_to)
        report.creates_planned += len(plan_create)
        self.fault("new_golden")
        if link_to:  # the found records may differ from the new one: plan what they need
            self._merge_golden(entity, golden_id, {}, [], report)

    def _key_values(self, entity: str, record: Mapping[str, CanonicalValue]) -> list[tuple[str, str]]:
        return [(key, json.dumps(encode(record[key]), sort_keys=True, default=str))
                for key in self.config.entity(entity).keys if record.get(key) is not None]

    def _index_pending_create(self, entity: str, system: str, golden_id: str,
                              *records: Mapping[str, CanonicalValue]) -> None:
        index = self._pending_creates.get((entity, system))
        if index is None:
            return  # not loaded yet: loading reads it from the outbox
        for record in records:
            for key_value in self._key_values(entity, record):
                index.setdefault(key_value, set()).add(golden_id)

    def _pending_create_matches(self, entity: str, source: str, record: CanonicalRecord) -> set[str]:
        """Golden records with a pending create in ``source`` whose key the record has (first key that hits)."""
        keys = self._key_values(entity, record)
        if not keys:
            return set()
        cache_key = (entity, source)
        if cache_key not in self._pending_creates:  # loaded once per cycle, then kept up to date
            if not self._dry_run:
                self.store.expand_create_batches(source, entity)  # creates an interrupted load had planned
            self._pending_creates[cache_key] = {}
            with self.store.engine.connect() as conn:
                pending = ops.pending_creates_with_bases(conn, source, entity)
            for golden_id, payload, base in pending:
                self._index_pending_create(entity, source, golden_id, payload, base)
        index = self._pending_creates[cache_key]
        for key_value in keys:
            hits = index.get(key_value)
            if not hits:
                continue
            with self.store.engine.connect() as conn:  # still waiting there, not linked meanwhile
                hits = {golden_id for golden_id in hits
                        if ops.pending_for_golden(conn, golden_id, source, "create")
                        and source not in ops.links_of_golden(conn, golden_id)}
            if hits:
                return hits
        return set()

    def _fuzzy_match(self, entity: str, row: ops.ChangeRow, change_ids: list[int], report: EntityReport) -> bool:
        """After the keys, the fuzzy matcher: a sure match is linked, a possible one held for a person.

        Returns True when the record was handled (linked or held), False when it is clearly new.
        """
        settings = self.config.entity(entity).match
        if settings is None or row.record is None:
            return False
        candidates = self._fuzzy_candidates(entity, row.system)
        matches = best_matches(settings, {row.native_id: row.record}, candidates,
                               self.config.model.default_region).get(row.native_id, [])
        if not matches:
            return False
        best = matches[0]
        if best.sure and (len(matches) == 1 or not matches[1].sure):
            candidates.pop(best.existing_id, None)
            self._attach(entity, row, change_ids, best.existing_id, report, cause=f"fuzzy match: {best.describe()}")
            return True
        described = "; ".join(m.describe() for m in matches[:3])
        self._problem_and_skip(entity, row, change_ids, "possible_duplicate",
                               f"new record may be a duplicate — {described}; not created, a person must decide")
        return True

    def _fuzzy_candidates(self, entity: str, source: str) -> dict[str, CanonicalRecord]:
        """Golden records (by id, their base) not yet linked in ``source``; loaded once per cycle."""
        key = (entity, source)
        if key not in self._fuzzy_cache:
            with self.store.engine.connect() as conn:
                self._fuzzy_cache[key] = ops.golden_bases_unlinked_in(conn, entity, source)
        return self._fuzzy_cache[key]

    def _attach(self, entity: str, row: ops.ChangeRow, change_ids: list[int], golden_id: str,
                report: EntityReport, cause: str | None = None) -> None:
        """A new record whose key matches a golden record it is not linked to yet."""
        assert row.record is not None
        source = row.system
        with self.store.engine.connect() as conn:
            links = ops.links_of_golden(conn, golden_id)
        if source in links:
            self._problem_and_skip(entity, row, change_ids, "duplicate",
                                   f"same key as {source} record {links[source].native_id}, which is already "
                                   "linked: possible duplicate, not synced")
            return
        if self._dry_run:
            self._plan_sink.append({"action": "link", "entity": entity, "system": source,
                                    "native_id": row.native_id, "golden_id": golden_id})
            return
        with self._write() as conn:
            loaded = ops.load_golden(conn, golden_id)
            base, status = loaded if loaded else ({}, "active")
            # a create for it was sent there (or about to be) when a run died: the record is
            # most likely that create's result, measured against what was sent (edits since count)
            sent = ops.sent_create_payload(conn, golden_id, source)
            if sent is not None:
                seen = self._sent_seen(entity, source, sent, row.record)
            else:  # someone else's record: it fills what the golden record lacks, the rest is planned
                seen = row.record
                filled = {k: v for k, v in row.record.items() if base.get(k) is None and v is not None}
                if filled and status == "active":
                    ops.save_golden(conn, golden_id, {**base, **filled})
            ops.insert_link(conn, entity, source, golden_id, row.native_id, row.version, seen)
            ops.supersede_pending(conn, source, golden_id, ("create",), f"linked to existing {row.native_id}")
            self.store.audit(conn, self.run_id(), [{
                "system": source, "entity": entity, "golden_id": golden_id, "native_id": row.native_id,
                "op": "link", "cause": cause or f"new {source} record has the key of an existing record"}])
            if status != "active":  # its counterparts are being removed: so is it (or it brings it back)
                self._follow_removal(conn, entity, source, golden_id, row.native_id, row.version, status, report)
            ops.mark_changes_processed(conn, change_ids)
        report.linked += 1
        observed = {source: _Observation([], row.native_id, row.version, row.record,
                                         _parse_stamp(row.source_modified))} if sent is not None else {}
        self._merge_golden(entity, golden_id, observed, [], report)

    def _problem_and_skip(self, entity: str, row: ops.ChangeRow, change_ids: list[int], kind: str,
                          message: str) -> None:
        if self._dry_run:
            self._plan_sink.append({"action": "skip", "entity": entity, "system": row.system,
                                    "native_id": row.native_id, "reason": message})
            return
        with self._write() as conn:
            self.store.add_problems(conn, self.run_id(), [{"kind": kind, "system": row.system, "entity": entity,
                                                           "native_id": row.native_id, "message": message}])
            ops.mark_changes_processed(conn, change_ids)

    # ------------------------------------------------------------------ deletes
    def _handle_delete(self, entity: str, row: ops.ChangeRow, link: ops.LinkState, change_ids: list[int],
                       report: EntityReport) -> None:
        policy = self.config.entity(entity).sync.deletes
        golden_id, source = link.golden_id, row.system
        if self._dry_run:
            self._plan_sink.append({"action": f"delete ({policy})", "entity": entity, "system": source,
                                    "native_id": row.native_id, "golden_id": golden_id})
            return
        run_id = self.run_id()
        with self._write() as conn:
            loaded = ops.load_golden(conn, golden_id)
            links = ops.links_of_golden(conn, golden_id)
            self.store.delete_link(conn, source, entity, row.native_id)
            ops.supersede_pending(conn, source, golden_id, ("update", "create", "delete", "archive"),
                                  f"record deleted in {source}")
            others = {s: lk for s, lk in links.items() if s != source}
            active = loaded is not None and loaded[1] == "active"
            cause = f"deleted in {source} ({row.native_id}); policy {policy}"
            if policy in ("propagate", "archive") and active:
                for system, other in others.items():
                    ops.supersede_pending(conn, system, golden_id, ("update", "create"), cause)
                    ops.add_outbox(conn, run_id, entity, system, golden_id, other.native_id,
                                   "delete" if policy == "propagate" else "archive", {}, cause, other.version)
                    report.deletes_planned += 1
                # creates still waiting for a system are dropped: the record is gone
                self.store.set_golden_status(conn, golden_id, "deleted" if policy == "propagate" else "archived")
            elif active:
                self.store.add_problems(conn, run_id, [{
                    "kind": "deleted" if policy == "ignore" else "delete_review", "system": source,
                    "entity": entity, "native_id": row.native_id, "golden_id": golden_id,
                    "message": f"record deleted in {source}; kept in {', '.join(others) or 'no other system'} "
                               f"(deletes: {policy})"}])
                if not others:
                    self.store.set_golden_status(conn, golden_id, "deleted")
            self.store.audit(conn, run_id, [{"system": source, "entity": entity, "golden_id": golden_id,
                                             "native_id": row.native_id, "op": "unlink", "cause": cause}])
            ops.mark_changes_processed(conn, change_ids)

    # ------------------------------------------------------------------ conflict decisions
    def _apply_decisions(self, entity: str, report: EntityReport) -> None:
        with self.store.engine.connect() as conn:
            decided = ops.decided_conflicts(conn, entity)
        spec = self.config.entity_spec(entity)
        for conflict in decided:
            resolution = conflict.resolution or {}
            with self._write() as conn:
                loaded = ops.load_golden(conn, conflict.golden_id)
                if loaded is None:
                    ops.close_conflict(conn, conflict.id, {**resolution, "applied": False})
                    continue
                base, _ = loaded
                links = ops.links_of_golden(conn, conflict.golden_id)
                if "take" in resolution:
                    system = str(resolution["take"])
                    link = links.get(system)
                    value: CanonicalValue = (link.seen or {}).get(conflict.field) if link and link.seen else \
                        conflict.values.get(system)
                    cause = f"conflict {conflict.id} resolved: take {system}'s value"
                else:
                    value = _coerce_value(spec, conflict.field, resolution.get("value"))
                    cause = f"conflict {conflict.id} resolved: value given by a person"
                old = base.get(conflict.field)
                base[conflict.field] = value
                ops.save_golden(conn, conflict.golden_id, base)
                ops.close_conflict(conn, conflict.id, {**resolution, "value": display(value)})
                self.store.audit(conn, self.run_id(), [{
                    "entity": entity, "golden_id": conflict.golden_id, "op": "resolve",
                    "old": {conflict.field: display(old)}, "new": {conflict.field: display(value)},
                    "cause": cause + (f" (by {resolution['by']})" if resolution.get("by") else "")}])
            report.resolved += 1
            self._merge_golden(entity, conflict.golden_id, {}, [], report,
                               cause_prefix=f"conflict {conflict.id} resolved: ")

    # ------------------------------------------------------------------ apply
    def _apply_outbox(self, entity: str, system: str, report: EntityReport) -> bool:
        """Send the system's pending writes; True if some record must be merged again first."""
        if not self.breakers.allows(system):
            report.unavailable.setdefault(system, self.breakers.down_now.get(system) or "circuit open")
            return False
        try:
            self._apply_creates(entity, system, report)
            return self._apply_updates(entity, system, report)
        except SystemDown as exc:
            report.unavailable[system] = exc.reason
            return False

    def _apply_creates(self, entity: str, system: str, report: EntityReport) -> None:
        connector = self.connectors[system]
        mapping = self.mapping(entity, system)
        keys = tuple(self.config.entity(entity).keys)
        correlation = connector.capabilities(entity).correlation_field
        self.store.expand_create_batches(system, entity)  # creates an interrupted load had planned
        after_id = 0
        while True:
            with self.store.engine.connect() as conn:
                entries = ops.pending_outbox(conn, system, entity, ("create",), self.options.batch_size, after_id)
            if not entries:
                return
            after_id = int(entries[-1]["id"])
            to_send: list[dict[str, Any]] = []
            for entry in entries:
                with self.store.engine.connect() as conn:
                    links = ops.links_of_golden(conn, entry["golden_id"])
                    loaded = ops.load_golden(conn, entry["golden_id"])
                if system in links or loaded is None or loaded[1] != "active":
                    with self._write() as conn:
                        ops.finish_outbox(conn, entry["id"], "superseded", "already linked or no longer active")
                    continue
                planned = entry["planned"] = entry["payload"]
                entry["payload"] = loaded[0]  # create what is agreed now, not what was agreed when planned
                # a run that died after sending may have created it already (I2), with the key it
                # had then if that has changed since
                def look(e: dict[str, Any] = entry, planned: CanonicalRecord = planned) -> list[NativeRecord]:
                    found = find_created(connector, mapping, entity, e["golden_id"], e["payload"], keys)
                    if not found and any(planned.get(k) != e["payload"].get(k) for k in keys):
                        found = find_created(connector, mapping, entity, e["golden_id"], planned, keys)
                    return found

                found: list[NativeRecord] = self._call(system, look)
                if not found:
                    to_send.append(entry)
                    continue
                self._link_found(entity, system, entry, found, report)
            if to_send:
                self._send_creates(entity, system, to_send, correlation, report)

    def _link_found(self, entity: str, system: str, entry: dict[str, Any], found: list[NativeRecord],
                    report: EntityReport) -> None:
        golden_id = entry["golden_id"]
        with self.store.engine.connect() as conn:
            linked = ops.links_by_native(conn, system, entity, [r.native_id for r in found])
        free = [r for r in found if r.native_id not in linked]
        if len(found) == 1 and len(free) == 1:
            canonical, _ = self.mapping(entity, system).to_canonical(free[0].fields)
            observed: dict[str, _Observation] = {}
            seen = canonical
            if entry.get("attempts") and entry.get("planned") is not None:
                # sent before (a run died): measured against what was sent, edits since are changes
                seen = self._sent_seen(entity, system, entry["planned"], canonical)
                observed[system] = _Observation([], free[0].native_id, free[0].version, canonical, None)
            with self._write() as conn:
                ops.insert_link(conn, entity, system, golden_id, free[0].native_id, free[0].version, seen)
                ops.finish_outbox(conn, entry["id"], "done", native_id=free[0].native_id)
                self.store.audit(conn, self.run_id(), [{
                    "system": system, "entity": entity, "golden_id": golden_id, "native_id": free[0].native_id,
                    "op": "link", "cause": "found by correlation or key before creating (no second create)"}])
            report.linked += 1
            self._merge_golden(entity, golden_id, observed, [], report)
            return
        message = (f"create for {system} not sent: the key matches {len(found)} record(s) "
                   f"({', '.join(r.native_id for r in found[:5])}), {len(found) - len(free)} linked to other "
                   "golden records (possible duplicate)")
        with self._write() as conn:
            ops.finish_outbox(conn, entry["id"], "failed", message)
            self.store.add_problems(conn, self.run_id(), [{"kind": "ambiguous_key", "system": system,
                                                           "entity": entity, "golden_id": golden_id,
                                                           "message": message}])
        report.failed += 1

    def _send_creates(self, entity: str, system: str, entries: list[dict[str, Any]], correlation: str | None,
                      report: EntityReport) -> None:
        connector = self.connectors[system]
        mapping = self.mapping(entity, system)
        natives = []
        for entry in entries:
            native = mapping.to_native(entry["payload"])
            if correlation:
                native[correlation] = entry["golden_id"]
            natives.append(native)
        with self._write() as conn:  # the outbox says what goes out before it does (found again after a crash)
            for entry in entries:
                ops.note_sending(conn, entry["id"], entry["payload"])
                entry["planned"] = entry["payload"]
        self.fault("before_create")
        try:
            # not retried: a create whose reply was lost is found (not repeated) on the next attempt
            created: list[NativeRecord] = self._call(system, lambda: connector.create(entity, natives),
                                                     idempotent=False)
        except RecordRejected as exc:
            if len(entries) > 1:  # find the record the system refuses; the others still go in
                for entry in entries:
                    self._send_creates(entity, system, [entry], correlation, report)
                return
            self._fail_entry(entity, system, entries[0], str(exc), report)
            return
        self.fault("after_create")
        assigned: dict[str, _Observation] = {}
        with self._write() as conn:
            audit = []
            for entry, record in zip(entries, created, strict=True):
                seen, _ = mapping.to_canonical(record.fields) if record.fields else (dict(entry["payload"]), [])
                # Values the system filled in itself where the payload had none (a customer number
                # from the ERP's sequence, a default) are that system's change, to be merged and
                # sent to the others, not a deviation from the agreed value to be undone.
                filled = [k for k, v in seen.items() if v is not None and entry["payload"].get(k) is None]
                if filled:
                    assigned[entry["golden_id"]] = _Observation([], record.native_id, record.version, seen, None)
                    seen = {**seen, **dict.fromkeys(filled)}
                ops.insert_link(conn, entity, system, entry["golden_id"], record.native_id, record.version, seen)
                ops.finish_outbox(conn, entry["id"], "done", native_id=record.native_id)
                audit.append({"system": system, "entity": entity, "golden_id": entry["golden_id"],
                              "native_id": record.native_id, "op": "create",
                              "new": {k: display(v) for k, v in entry["payload"].items() if v is not None},
                              "cause": entry["cause"]})
            self.store.audit(conn, self.run_id(), audit)
        report.created += len(created)
        for entry in entries:  # fields the system could not take as given get planned again
            observed = assigned.get(entry["golden_id"])
            self._merge_golden(entity, entry["golden_id"], {system: observed} if observed else {}, [], report)

    def _fail_entry(self, entity: str, system: str, entry: dict[str, Any], error: str,
                    report: EntityReport) -> None:
        with self._write() as conn:
            ops.finish_outbox(conn, entry["id"], "failed", error)
            self.store.add_problems(conn, self.run_id(), [{
                "kind": "rejected", "system": system, "entity": entity, "golden_id": entry["golden_id"],
                "native_id": entry.get("native_id"), "message": f"{entry['op']} rejected: {error}"}])
        report.failed += 1

    def _apply_updates(self, entity: str, system: str, report: EntityReport) -> bool:
        connector = self.connectors[system]
        mapping = self.mapping(entity, system)
        replan = False
        after_id = 0
        while True:
            with self.store.engine.connect() as conn:
                entries = ops.pending_outbox(conn, system, entity, ("update", "delete", "archive"),
                                             self.options.batch_size, after_id)
            if not entries:
                return replan
            after_id = int(entries[-1]["id"])
            for entry in entries:
                with self.store.engine.connect() as conn:
                    link = ops.links_of_golden(conn, entry["golden_id"]).get(system)
                if link is None:
                    with self._write() as conn:
                        ops.finish_outbox(conn, entry["id"], "superseded", "no longer linked")
                    continue
                if entry["op"] == "update":
                    replan = self._send_update(entity, system, entry, link, connector, mapping, report) or replan
                else:
                    replan = self._send_removal(entity, system, entry, link, connector, report) or replan

    def _send_update(self, entity: str, system: str, entry: dict[str, Any], link: ops.LinkState,
                     connector: Connector, mapping: EntityMapping, report: EntityReport) -> bool:
        seen = dict(link.seen or {})
        patch = {k: v for k, v in entry["payload"].items() if k not in seen or seen[k] != v}
        if not patch:
            with self._write() as conn:
                ops.finish_outbox(conn, entry["id"], "done", "nothing left to write")
            return False
        native_patch = mapping.to_native(patch, only=list(patch))
        self.fault("before_update")
        try:
            record: NativeRecord = self._call(system, lambda: connector.update(
                entity, link.native_id, native_patch, link.version))
        except StaleVersion:
            report.stale += 1
            self._reread(entity, system, entry, link, "changed since it was last read: re-read, merged again")
            return True
        except RecordNotFound:
            self._reread(entity, system, entry, link, "record no longer exists")
            return True
        except RecordRejected as exc:
            self._fail_entry(entity, system, entry, str(exc), report)
            return False
        self.fault("after_update")
        if record.fields:
            after, _ = mapping.to_canonical(record.fields)
            new_seen = {**seen, **after}
        else:
            new_seen = {**seen, **patch}
        with self._write() as conn:
            ops.save_link(conn, entity, system, link.native_id, record.version, new_seen, link.tolerated)
            ops.finish_outbox(conn, entry["id"], "done")
            self.store.audit(conn, self.run_id(), [{
                "system": system, "entity": entity, "golden_id": entry["golden_id"], "native_id": link.native_id,
                "op": "update", "old": {k: display(seen.get(k)) for k in patch},
                "new": {k: display(v) for k, v in patch.items()}, "cause": entry["cause"]}])
        report.applied += 1
        return False

    def _reread(self, entity: str, system: str, entry: dict[str, Any], link: ops.LinkState, why: str) -> None:
        """Store the record's fresh state as a change so that it is merged before any write."""
        fresh = self._call(system, lambda: self.connectors[system].get(entity, [link.native_id]))
        record = fresh.get(link.native_id)
        row: dict[str, Any]
        if record is None:
            row = {"system": system, "native_id": link.native_id, "kind": "delete"}
        else:
            canonical, _ = self.mapping(entity, system).to_canonical(record.fields)
            changed_field = self.connectors[system].capabilities(entity).modified_field
            row = {"system": system, "native_id": link.native_id, "kind": "upsert", "version": record.version,
                   "record": canonical,
                   "source_modified": _stamp(record.fields.get(str(changed_field))) if changed_field else None}
        with self._write() as conn:
            ops.insert_changes(conn, self.run_id(), entity, [row])
            ops.finish_outbox(conn, entry["id"], "superseded", why)

    def _send_removal(self, entity: str, system: str, entry: dict[str, Any], link: ops.LinkState,
                      connector: Connector, report: EntityReport) -> bool:
        op = entry["op"]
        self.fault("before_delete")
        try:
            if op == "delete":
                self._call(system, lambda: connector.delete(entity, link.native_id, link.version))
            else:
                self._call(system, lambda: connector.archive(entity, link.native_id, link.version))
        except StaleVersion:
            # the record was edited after the deletion elsewhere: the delete policy still applies,
            # but only to the state now read, so refresh the version and try again next round
            fresh = self._call(system, lambda: connector.get(entity, [link.native_id])).get(link.native_id)
            with self._write() as conn:
                if fresh is None:
                    self.store.delete_link(conn, system, entity, link.native_id)
                    ops.finish_outbox(conn, entry["id"], "done", "already gone")
                else:
                    ops.save_link(conn, entity, system, link.native_id, fresh.version, link.seen or {},
                                  link.tolerated)
                    ops.count_attempt(conn, entry["id"], "stale version; retrying with the fresh one")
            report.stale += 1
            return True
        except RecordNotFound:
            pass
        except RecordRejected as exc:
            self._fail_entry(entity, system, entry, str(exc), report)
            return False
        with self._write() as conn:
            if op == "delete":
                self.store.delete_link(conn, system, entity, link.native_id)
            ops.finish_outbox(conn, entry["id"], "done")
            self.store.audit(conn, self.run_id(), [{
                "system": system, "entity": entity, "golden_id": entry["golden_id"], "native_id": link.native_id,
                "op": op, "cause": entry["cause"]}])
        report.deleted += 1
        return False


def _stamp(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment: dt.datetime = value
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment.isoformat()
    return str(value)


def _parse_stamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _coerce_value(spec: EntitySpec, name: str, value: Any) -> CanonicalValue:
    if isinstance(value, dict):
        from einklang.model import decode

        return decode(value)
    return coerce(spec.field(name), value)


def dumps_plan(plan: list[dict[str, Any]]) -> str:
    return json.dumps(plan, indent=2, ensure_ascii=False, default=str)

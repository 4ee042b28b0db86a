"""Initial load: create the source's records in the target and link every pair.

Streams the source in pages. A non-empty target is matched first by the entity's key fields
(exact, after normalisation); ambiguous keys are reported, never guessed. Each batch is
planned in the outbox before it is sent and linked right after, so an interrupted load that
is run again creates nothing twice (see ``recovery``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from einklang.config import LoadedConfig
from einklang.connectors.base import (
    Connector,
    ConnectorError,
    NativeRecord,
    SystemUnavailable,
)
from einklang.context import entity_context
from einklang.mapping import EntityMapping
from einklang.model import CanonicalRecord, display
from einklang.store import changes, journal, links, outbox
from einklang.store.load_indexes import indexes_built_after
from einklang.store.rows import Link, OutboxEntry
from einklang.store.state import StateStore
from einklang.sync.creates import CreateItem, CreateTarget, send_creates
from einklang.sync.load_report import LoadIssue as LoadIssue
from einklang.sync.load_report import LoadReport as LoadReport
from einklang.sync.load_steps import complete_linked, link_existing, match_fuzzily, plan_waiting
from einklang.sync.page_mapping import (
    MIN_RECORDS_FOR_WORKERS,
    MappedRecord,
    PageMapper,
    default_workers,
    fewer_gc_pauses,
    planned_create,
)
from einklang.sync.recovery import recover_pending_creates
from einklang.sync.references import StoreReferences
from einklang.sync.target_index import TargetKeyIndex

ProgressCallback = Callable[[int], None]

# Records per page and per write transaction. 5,000 was no faster than 1,000 once the state
# store stopped checkpointing per commit (bench/RESULTS.md), and holds five times the memory.
DEFAULT_LOAD_BATCH = 1000


class InitialLoad:
    def __init__(
        self,
        config: LoadedConfig,
        store: StateStore,
        entity: str,
        source: Connector,
        target: Connector,
        *,
        batch_size: int = DEFAULT_LOAD_BATCH,
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
        workers: int | None = None,
        relink: bool = False,
    ) -> None:
        self.config = config
        self.relink = relink
        self._verb = "relink" if relink else "initial load"
        self.store = store
        self.entity = entity
        self.source = source
        self.target = target
        self.context = entity_context(config, entity)
        # references resolve by lookups in what the state store holds when the load starts
        self.references = StoreReferences(store)
        self.source_mapping: EntityMapping = self.context.mapping(source.system)
        self.target_mapping: EntityMapping = self.context.mapping(target.system)
        if self.context.spec.references():
            self.source_mapping = self.source_mapping.bind(
                self.references.snapshot(self.source_mapping, source.system), source.system
            )
            self.target_mapping = self.target_mapping.bind(
                self.references.snapshot(self.target_mapping, target.system), target.system
            )
        self.keys = self.context.keys
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.progress = progress or (lambda _n: None)
        self.report = LoadReport(entity, source.system, target.system, dry_run)
        self.correlation_field = target.capabilities(entity).correlation_field
        self.match_settings = self.context.match
        self.workers = workers
        self._source_linked_before = True
        self._cause = f"initial load from {source.system}"

    # ------------------------------------------------------------------ main
    def run(self) -> LoadReport:
        report = self.report
        if not self.dry_run:
            report.run_id = self.store.start_run(
                "relink" if self.relink else "load",
                self.entity,
                {"source": self.source.system, "target": self.target.system},
            )
        # cursors are taken before reading: whatever changes during the load is seen by the next
        # sync; after a relink the next sync reads both systems from the start instead
        start_cursors = (
            {}
            if self.dry_run or self.relink
            else {
                system.system: system.current_cursor(self.entity)
                for system in (self.source, self.target)
                if not self._has_cursor(system.system)
            }
        )
        status = "ok"
        try:
            if not self.dry_run:
                self._finish_interrupted_creates()
            # With no source record linked yet, no page can hold one (pages are disjoint), so the
            # per-page lookup is skipped; the unique links index still refuses a concurrent double.
            with self.store.read() as conn:
                self._source_linked_before = links.count_links(conn, self.source.system, self.entity) > 0
            key_index = self._target_key_index()
            report.target_was_empty = key_index.empty
            if not key_index.empty:
                # the target's own records that this load does not link must reach the source too:
                # the first sync reads the target from the beginning and treats them as new there
                start_cursors.pop(self.target.system, None)
            with (
                self.store.bulk_writes(),
                # into an empty store: two overview indexes are built once at the end
                nullcontext() if self.dry_run else indexes_built_after(self.store),
                fewer_gc_pauses(),
                PageMapper(
                    self.source_mapping, self.target_mapping, self.correlation_field, self._worker_count()
                ) as mapper,
            ):
                for page, mapped in mapper.map(self.source.read_all(self.entity, page_size=self.batch_size)):
                    self._load_page(page, mapped, key_index)
                    self.progress(len(page))
            report.target_unlinked = key_index.untaken_count()
        except SystemUnavailable as exc:
            report.aborted = str(exc)
            status = "failed"
        except KeyboardInterrupt:
            report.aborted = "interrupted"
            status = "interrupted"
            raise
        finally:
            if not self.dry_run and report.run_id is not None:
                if status == "ok":
                    with self.store.transaction() as conn:
                        for system, cursor in start_cursors.items():
                            changes.set_cursor(conn, system, self.entity, cursor)
                self.store.finish_run(report.run_id, status, report.summary())
        return report

    def _worker_count(self) -> int:
        if self.workers is not None:
            return self.workers
        workers = default_workers()
        if workers:
            count = self.source.count(self.entity)
            if count is None or count < MIN_RECORDS_FOR_WORKERS:
                return 0
        return workers

    # ------------------------------------------------------------------ recovery
    def _finish_interrupted_creates(self) -> None:
        recovery = recover_pending_creates(
            self.store, self.target, self.target_mapping, self.entity, self.keys, self.report.run_id
        )
        self.report.recovered += recovery.linked
        for entry in recovery.to_create:
            self._send_creates([self._recovered_create(entry)])

    def _has_cursor(self, system: str) -> bool:
        with self.store.read() as conn:
            return changes.has_cursor(conn, system, self.entity)

    # ------------------------------------------------------------------ key index of the target
    def _target_is_empty(self) -> bool:
        count = self.target.count(self.entity)
        if count is not None:
            return count == 0
        pages = self.target.read_all(self.entity, page_size=1)
        try:
            return not next(iter(pages), [])
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()  # release the connection the half-read generator holds

    def _target_key_index(self) -> TargetKeyIndex:
        index = TargetKeyIndex(self.keys)
        if self._target_is_empty():
            return index
        index.empty = False
        if not self.keys and self.match_settings is None:
            return index
        for page in self.target.read_all(self.entity, page_size=self.batch_size):
            with self.store.read() as conn:
                linked = links.links_by_native(conn, self.target.system, self.entity, [r.native_id for r in page])
            for record in page:
                if record.native_id in linked:
                    continue
                canonical, _ = self.target_mapping.to_canonical(record.fields)
                index.add(canonical, record)
        return index

    # ------------------------------------------------------------------ one page
    def _load_page(self, page: list[NativeRecord], mapped: list[MappedRecord], key_index: TargetKeyIndex) -> None:
        report = self.report
        report.read += len(page)
        linked_sources: dict[str, Link] = {}
        already: dict[str, dict[str, Link]] = {}
        if self._source_linked_before:
            with self.store.read() as conn:
                linked_sources = links.links_by_native(
                    conn, self.source.system, self.entity, [r.native_id for r in page]
                )
                already = links.links_of_goldens(conn, [link.golden_id for link in linked_sources.values()])
        to_create: list[tuple[NativeRecord, MappedRecord]] = []
        to_complete: list[tuple[NativeRecord, Link]] = []
        to_wait: list[tuple[NativeRecord, MappedRecord]] = []
        to_link: list[tuple[NativeRecord, CanonicalRecord, NativeRecord, str]] = []
        problems: list[dict[str, Any]] = []
        required = [name for name, spec in self.source_mapping.entity.fields.items() if spec.required]
        for record, mapping_result in zip(page, mapped, strict=True):
            link = linked_sources.get(record.native_id)
            if link is not None:
                if self.target.system in already.get(link.golden_id, {}):
                    report.skipped += 1
                    self._skip(record.native_id, "already linked")
                elif self.relink:
                    report.skipped += 1
                    self._skip(record.native_id, "linked to a golden record; relink links only new pairs")
                else:  # the target was added later: its golden record gets its link there now
                    to_complete.append((record, link))
                continue
            canonical = mapping_result.canonical
            for problem in mapping_result.problems:
                issue = LoadIssue(
                    record.native_id,
                    f"{problem.reason} (value {problem.value!r}); field left empty",
                    problem.field,
                )
                report.warnings.append(issue)
                problems.append(
                    {
                        "kind": "invalid_value",
                        "system": self.source.system,
                        "entity": self.entity,
                        "native_id": record.native_id,
                        "field": problem.field,
                        "message": issue.reason,
                    }
                )
            dangling = [p for p in mapping_result.problems if p.kind == "dangling_reference"]
            if dangling:  # held: never created without the record it refers to
                report.failed += 1
                report.failures.extend(LoadIssue(record.native_id, p.reason, p.field) for p in dangling)
                continue
            missing = [name for name in required if canonical.get(name) is None]
            if missing:
                report.failed += 1
                report.failures.append(LoadIssue(record.native_id, f"required field(s) empty: {', '.join(missing)}"))
                continue
            if not key_index.empty:
                key, matches, taken_hit = key_index.lookup(canonical)
                if len(matches) == 1:
                    key_index.take(matches[0])
                    to_link.append((record, canonical, matches[0], f"same key {_show_key(key, canonical)}"))
                    continue
                if len(matches) > 1:
                    report.skipped += 1
                    ids = ", ".join(m.native_id for m in matches[:5])
                    shown = _show_key(key, canonical)
                    self._skip(record.native_id, f"ambiguous key {shown}: target records {ids}")
                    problems.append(
                        {
                            "kind": "ambiguous_key",
                            "system": self.target.system,
                            "entity": self.entity,
                            "native_id": record.native_id,
                            "message": f"key {shown} matches target records {ids}",
                        }
                    )
                    continue
                if taken_hit:
                    report.skipped += 1
                    self._skip(
                        record.native_id,
                        "its key matches a target record already linked to another source record in this load",
                    )
                    continue
            (to_create if mapping_result.waiting is None else to_wait).append((record, mapping_result))
        if to_complete:
            complete_linked(self, to_complete, key_index)
        if to_create and self.match_settings is not None and not key_index.empty:
            to_create = self._fuzzy_match(to_create, key_index, to_link, problems)
        if self.relink:  # nothing is created: the next sync reads both systems from the start
            to_create += to_wait
            to_wait = []
            for record, _ in to_create:
                report.skipped += 1
                self._skip(
                    record.native_id, f"no {self.target.system} record with its key; the next sync treats it as new"
                )
            to_create = []
        if self.dry_run:
            for record, _canonical, target_record, reason in to_link:
                report.linked += 1
                report.plan.append(
                    {
                        "action": "link",
                        "source_id": record.native_id,
                        "target_id": target_record.native_id,
                        "reason": reason,
                    }
                )
            for record, mapping_result in to_create + to_wait:
                report.created += 1
                report.plan.append(
                    {
                        "action": "create",
                        "source_id": record.native_id,
                        "values": {k: display(v) for k, v in mapping_result.canonical.items() if v is not None},
                    }
                )
            return
        if problems:
            with self.store.transaction() as conn:
                journal.add_problems(conn, report.run_id, problems)
        if to_link:
            self._link_existing(to_link)
        if to_create:
            self._plan_and_send_creates(to_create)
        if to_wait:
            plan_waiting(self, to_wait)

    def _fuzzy_match(
        self,
        candidates: list[tuple[NativeRecord, MappedRecord]],
        key_index: TargetKeyIndex,
        to_link: list[tuple[NativeRecord, CanonicalRecord, NativeRecord, str]],
        problems: list[dict[str, Any]],
    ) -> list[tuple[NativeRecord, MappedRecord]]:
        """Link sure matches, hold possible ones for a person, return what is clearly new."""
        clearly_new, linked = match_fuzzily(
            self, [(r.native_id, r, m.canonical, None, (r, m)) for r, m in candidates], key_index, problems
        )
        to_link.extend((r, m.canonical, target, reason) for (r, m), target, reason in linked)
        return clearly_new

    def _skip(self, native_id: str, reason: str) -> None:
        self.report.skips.append(LoadIssue(native_id, reason))

    # ------------------------------------------------------------------ link existing
    def _link_existing(self, pairs: list[tuple[NativeRecord, CanonicalRecord, NativeRecord, str]]) -> None:
        link_existing(self, pairs)

    # ------------------------------------------------------------------ create
    def _plan_and_send_creates(self, records: list[tuple[NativeRecord, MappedRecord]]) -> None:
        """Plan the creates durably (golden records, source links, one batch row), send, link.

        The rows are written in bulk with values the page mapper encoded already. A crash after
        the plan and before the links leaves the batch pending; the next run (or sync) expands
        it into outbox entries and finds what was created before creating anything again.
        """
        entity, source = self.entity, self.source.system
        golden_ids = [m.golden_id for _, m in records]
        with self.store.transaction() as conn:
            links.insert_golden_rows(
                conn, entity, [(gid, m.base_json, m.base_hash) for gid, (_, m) in zip(golden_ids, records, strict=True)]
            )
            links.insert_links(
                conn,
                entity,
                source,
                [(gid, r.native_id, r.version, m.base_hash) for gid, (r, m) in zip(golden_ids, records, strict=True)],
            )
            batch_id = outbox.plan_create_batch(
                conn, self.report.run_id, entity, self.target.system, golden_ids, self._cause
            )
        items = [
            CreateItem(m.golden_id, m.target_native, self._cause, seen_hash=m.target_seen_hash, audit_new=m.audit_new)
            for _, m in records
        ]
        self._send_creates(items, batch_id)

    def _recovered_create(self, entry: OutboxEntry) -> CreateItem:
        planned = planned_create(self.target_mapping, entry.payload, [], entry.golden_id, self.correlation_field)
        return CreateItem(
            planned.golden_id,
            planned.target_native,
            self._cause,
            outbox_id=entry.id,
            payload=entry.payload,
            seen_hash=planned.target_seen_hash,
            audit_new=planned.audit_new,
        )

    def _send_creates(self, items: list[CreateItem], batch_id: int | None = None) -> None:
        target = CreateTarget(self.store, self.target, self.entity, self.target_mapping, self.report.run_id)
        results = send_creates(target, items, batch_id)
        self.report.created += len(results.created)
        for item, error in results.refused:
            self.report.failed += 1
            self.report.failures.append(LoadIssue(item.golden_id, f"rejected by {self.target.system}: {error}"))


def _show_key(key: str | None, record: CanonicalRecord) -> str:
    return f"{key}={display(record.get(key))}" if key else "(none)"


def run_initial_load(
    config: LoadedConfig,
    store: StateStore,
    entity: str,
    source: Connector,
    target: Connector,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_LOAD_BATCH,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    relink: bool = False,
) -> LoadReport:
    """``workers``: processes that map pages (0: in this process; None: one per core for large loads).

    ``relink``: link by keys only, create nothing, hold differing values as conflicts
    (:mod:`einklang.sync.relink`).
    """
    if source.system == target.system:
        raise ConnectorError("source and target are the same system", system=source.system)
    return InitialLoad(
        config,
        store,
        entity,
        source,
        target,
        batch_size=batch_size,
        dry_run=dry_run,
        progress=progress,
        workers=workers,
        relink=relink,
    ).run()

"""Mapping pages of source records for the initial load, in worker processes when it pays.

Mapping and normalising (phone numbers above all) is most of a bulk load's CPU time, and it is
pure: a page of native field dicts in, canonical records and their encodings out. Large loads
therefore map pages in a pool of worker processes while the main process reads and writes;
results come back in page order, so the load behaves exactly as if it mapped in-process.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, NamedTuple

from einklang.connectors.base import ConnectorError, NativeRecord
from einklang.mapping import EntityMapping, FieldProblem, MapKind, ReferenceNotReady
from einklang.model import CanonicalRecord, display, record_hash, record_json
from einklang.store.ids import new_golden_ids

# Below this many records the pool's start-up (about a tenth of a second) is not worth it.
MIN_RECORDS_FOR_WORKERS = 20_000


class MappedRecord(NamedTuple):
    golden_id: str  # the id its golden record gets if it is created (drawn here, off the main process)
    canonical: CanonicalRecord
    problems: list[FieldProblem]
    base_json: str  # record_json(canonical): the golden base
    base_hash: str  # record_hash(canonical): the source link's hash
    target_native: dict[str, Any]  # what the target is sent, the correlation field included
    target_seen_hash: str  # record_hash of the target's canonical reading of target_native
    audit_new: str  # JSON of the displayed values, as the audit log keeps them
    # a reference not yet in the target: the record is planned, and waits in the outbox (why)
    waiting: ReferenceNotReady | None = None


def map_record(
    source: EntityMapping,
    target: EntityMapping,
    fields: Mapping[str, Any],
    golden_id: str,
    correlation_field: str | None = None,
) -> MappedRecord:
    canonical, problems = source.to_canonical(fields)
    return planned_create(target, canonical, problems, golden_id, correlation_field)


def planned_create(
    target: EntityMapping,
    canonical: CanonicalRecord,
    problems: list[FieldProblem],
    golden_id: str,
    correlation_field: str | None = None,
) -> MappedRecord:
    """What creating ``canonical`` in the target takes: its native record, hashes and audit entry."""
    present = {name: value for name, value in canonical.items() if value is not None}
    if _all_text(present):
        return _planned_text_create(target, canonical, present, problems, golden_id, correlation_field)
    return planned_create_any(target, canonical, present, problems, golden_id, correlation_field)


def planned_create_any(
    target: EntityMapping,
    canonical: CanonicalRecord,
    present: dict[str, Any],
    problems: list[FieldProblem],
    golden_id: str,
    correlation_field: str | None = None,
) -> MappedRecord:
    """:func:`planned_create` for values of any type (``present``: the values that are not None)."""
    base_hash = record_hash(present)
    try:
        target_native = target.to_native(canonical)
    except ReferenceNotReady as waiting:
        return MappedRecord(golden_id, canonical, problems, record_json(canonical), base_hash, {}, "", "", waiting)
    target_seen, _ = target.to_canonical(target_native)
    seen_present = {name: value for name, value in target_seen.items() if value is not None}
    seen_hash = base_hash if seen_present == present else record_hash(seen_present)
    if correlation_field:
        target_native[correlation_field] = golden_id
    audit_new = json.dumps({name: display(value) for name, value in present.items()}, ensure_ascii=False)
    return MappedRecord(
        golden_id, canonical, problems, record_json(canonical), base_hash, target_native, seen_hash, audit_new
    )


def _all_text(present: Mapping[str, Any]) -> bool:
    return all(type(value) is str for value in present.values())


def _planned_text_create(
    target: EntityMapping,
    canonical: CanonicalRecord,
    present: dict[str, Any],
    problems: list[FieldProblem],
    golden_id: str,
    correlation_field: str | None,
) -> MappedRecord:
    """:func:`planned_create` of a record whose values are all text: the same result, cheaper.

    Text values need no type tags, so ``record_json`` of the present values is one ``json.dumps``,
    and it is at once the hashed text and the audit entry (``display`` of a text is the text).
    When the target maps every present field to a column of its own and reads it back with the
    field's coercer (which gives a canonical value back unchanged), the target's reading of what
    it is sent is ``present`` itself: its hash is the base hash, without reading it back.
    """
    present_json = json.dumps(present, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    base_hash = hashlib.sha256(present_json.encode("utf-8")).hexdigest()[:32]
    base_json = present_json if len(present) == len(canonical) else record_json(canonical)
    try:
        target_native = target.to_native(canonical)
    except ReferenceNotReady as waiting:
        return MappedRecord(golden_id, canonical, problems, base_json, base_hash, {}, "", "", waiting)
    if reads_back_unchanged(target).issuperset(present):
        seen_hash = base_hash
    else:
        target_seen, _ = target.to_canonical(target_native)
        seen_present = {name: value for name, value in target_seen.items() if value is not None}
        seen_hash = base_hash if seen_present == present else record_hash(seen_present)
    if correlation_field:
        target_native[correlation_field] = golden_id
    return MappedRecord(golden_id, canonical, problems, base_json, base_hash, target_native, seen_hash, present_json)


_UNCHANGED_ON_READ_BACK: dict[int, tuple[EntityMapping, frozenset[str]]] = {}


def reads_back_unchanged(mapping: EntityMapping) -> frozenset[str]:
    """Fields whose canonical value ``mapping`` writes to a column of its own and reads back as it was.

    That holds for a plain column rule (no transforms, no value table, not read-only, not a
    reference, the only rule on its column): ``to_native`` writes the value as it is, and
    ``to_canonical`` reads it with the field's coercer, which leaves a canonical value unchanged
    (normalisation is idempotent; the coercers' caches rely on it too).
    """
    known = _UNCHANGED_ON_READ_BACK.get(id(mapping))
    if known is not None and known[0] is mapping:
        return known[1]
    column_count: dict[str, int] = {}
    for rule in mapping.rules:
        for column in rule.columns:
            column_count[column] = column_count.get(column, 0) + 1
    references = mapping.reference_fields
    fields = frozenset(
        rule.canonical
        for rule in mapping.rules
        if rule.kind is MapKind.COLUMN
        and not rule.transforms
        and not rule.values
        and not rule.read_only
        and rule.canonical not in references
        and column_count[rule.columns[0]] == 1
    )
    if len(_UNCHANGED_ON_READ_BACK) > 64:
        _UNCHANGED_ON_READ_BACK.clear()
    _UNCHANGED_ON_READ_BACK[id(mapping)] = (mapping, fields)
    return fields


def map_fields(
    source: EntityMapping, target: EntityMapping, correlation_field: str | None, page: Sequence[Mapping[str, Any]]
) -> list[MappedRecord]:
    golden_ids = new_golden_ids(len(page))
    return [
        map_record(source, target, fields, golden_id, correlation_field)
        for fields, golden_id in zip(page, golden_ids, strict=True)
    ]


_worker_mappings: tuple[EntityMapping, EntityMapping, str | None] | None = None


def _init_worker(source: EntityMapping, target: EntityMapping, correlation_field: str | None, parent_pid: int) -> None:
    global _worker_mappings
    _worker_mappings = (source, target, correlation_field)
    gc.freeze()  # what the worker inherited stays put: collections skip it, pages stay shared
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    """A load killed with SIGKILL cannot stop its workers, and they would wait for work forever
    (each holds the task pipe open itself): a worker whose parent is gone ends on its own."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(0)


# A bulk load allocates millions of short-lived tuples and dicts, freed by reference counting;
# with the default thresholds the cyclic collector still runs every 700 allocations and scans
# everything alive (pages in flight, caches): a sixth of the main process's time at 100,000 rows.
BULK_GC_THRESHOLDS = (50_000, 50, 100)


@contextmanager
def fewer_gc_pauses() -> Iterator[None]:
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _map_in_worker(page: list[Mapping[str, Any]]) -> list[MappedRecord]:
    assert _worker_mappings is not None, "worker not initialised"
    return map_fields(*_worker_mappings, page)


def default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(cores, 4) if cores > 1 else 0


class PageMapper:
    """Maps pages in order; with ``workers`` > 0 in that many processes, a few pages ahead."""

    def __init__(
        self, source: EntityMapping, target: EntityMapping, correlation_field: str | None, workers: int = 0
    ) -> None:
        self.source = source
        self.target = target
        self.correlation_field = correlation_field
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> PageMapper:
        if self.workers > 0:
            # fork: the workers inherit the mappings (their compiled rules need no pickling) and
            # start in milliseconds; they only compute, and never touch inherited connections.
            context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self.source, self.target, self.correlation_field, os.getpid()),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, pages: Iterable[list[NativeRecord]]) -> Iterator[tuple[list[NativeRecord], list[MappedRecord]]]:
        if self._pool is None:
            for page in pages:
                yield (
                    page,
                    map_fields(self.source, self.target, self.correlation_field, [record.fields for record in page]),
                )
            return
        pool = self._pool
        ahead: deque[tuple[list[NativeRecord], Future[list[MappedRecord]]]] = deque()
        source_pages = iter(pages)
        exhausted = False
        while True:
            # Keep every worker busy plus one page queued, so none waits while results are written.
            while not exhausted and len(ahead) <= self.workers:
                try:
                    page = next(source_pages)
                except StopIteration:
                    exhausted = True
                    break
                ahead.append((page, pool.submit(_map_in_worker, [record.fields for record in page])))
            if not ahead:
                return
            page, future = ahead.popleft()
            try:
                mapped = future.result()
            except BrokenProcessPool as error:
                raise ConnectorError(f"a mapping worker process died ({error}); run the load again") from None
            yield page, mapped

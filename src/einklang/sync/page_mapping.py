"""Mapping pages of source records for the initial load, in worker processes when it pays.

Mapping and normalising (phone numbers above all) is most of a bulk load's CPU time, and it is
pure: a page of native field dicts in, canonical records and their encodings out. Large loads
therefore map pages in a pool of worker processes while the main process reads and writes;
results come back in page order, so the load behaves exactly as if it mapped in-process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

from einklang.connectors.base import ConnectorError, NativeRecord
from einklang.mapping import EntityMapping, FieldProblem
from einklang.model import CanonicalRecord, display, record_hash, record_json

# Below this many records the pool's start-up (about a tenth of a second) is not worth it.
MIN_RECORDS_FOR_WORKERS = 20_000


class MappedRecord(NamedTuple):
    canonical: CanonicalRecord
    problems: list[FieldProblem]
    base_json: str  # record_json(canonical): the golden base and the outbox payload
    base_hash: str  # record_hash(canonical): the source link's hash
    target_native: dict[str, Any]  # what the target is sent (before the correlation field)
    target_seen_hash: str  # record_hash of the target's canonical reading of target_native
    audit_new: str  # JSON of the displayed values, as the audit log keeps them


def map_record(source: EntityMapping, target: EntityMapping, fields: Mapping[str, Any]) -> MappedRecord:
    canonical, problems = source.to_canonical(fields)
    present = {name: value for name, value in canonical.items() if value is not None}
    base_hash = record_hash(present)
    target_native = target.to_native(canonical)
    target_seen, _ = target.to_canonical(target_native)
    seen_present = {name: value for name, value in target_seen.items() if value is not None}
    seen_hash = base_hash if seen_present == present else record_hash(seen_present)
    audit_new = json.dumps({name: display(value) for name, value in present.items()}, ensure_ascii=False)
    return MappedRecord(
        canonical, problems, record_json(canonical), base_hash, target_native, seen_hash, audit_new
    )


def map_fields(source: EntityMapping, target: EntityMapping, page: Sequence[Mapping[str, Any]]) -> list[MappedRecord]:
    return [map_record(source, target, fields) for fields in page]


_worker_mappings: tuple[EntityMapping, EntityMapping] | None = None


def _init_worker(source: EntityMapping, target: EntityMapping) -> None:
    global _worker_mappings
    _worker_mappings = (source, target)


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

    def __init__(self, source: EntityMapping, target: EntityMapping, workers: int = 0) -> None:
        self.source = source
        self.target = target
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
                initargs=(self.source, self.target),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, pages: Iterable[list[NativeRecord]]) -> Iterator[tuple[list[NativeRecord], list[MappedRecord]]]:
        if self._pool is None:
            for page in pages:
                yield page, map_fields(self.source, self.target, [record.fields for record in page])
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

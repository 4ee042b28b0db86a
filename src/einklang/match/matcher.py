"""Finding duplicate records: prepare, block, score with Splink, apply domain rules, explain.

Splink (Fellegi-Sunter) gives each candidate pair a match probability from per-field agreement
levels. Some knowledge about people does not fit that model of independent evidence (a
different given name vetoes everything else); the spec's post-rules apply it afterwards and say
so in the reasons, so every verdict can be traced.

Memory stays bounded at millions of records: records are prepared in chunks into a Parquet
file, the engine (DuckDB or Spark) scores them and applies the rules' drop conditions in SQL
(most scored pairs in a big list are colleagues those drop), and the kept pairs come back in
batches, best first, joined to their records' prepared values for the rules and reasons.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from splink import Linker

from einklang.match._blocks import cap_blocking_keys
from einklang.match.backend import Backend, Session, default_backend
from einklang.match.model import LinkType, MatchModel, default_model, splink_settings
from einklang.match.names import count_distinct_names
from einklang.match.spec import LevelDef, MatchSpec, PairView, RuleOutcome
from einklang.match.sql_rules import drop_sql, gamma_column

if TYPE_CHECKING:
    import pyarrow as pa

Verdict = Literal["duplicate", "possible"]

RECORD_ID = "record_id"
UNIQUE_ID = "unique_id"
RECORD_KEY = "record_key"
"""The record's id as text, stored with the prepared values so that SQL can order pairs by it."""
CHUNK = 50_000
"""Records prepared per batch."""
RECORDS_PER_SLICE = 50_000
"""When scoring in slices (DuckDB), at most this many records per slice: a slice's scored pairs
carry both records' comparison values until the drop rules have run, so their number, not only
the candidates', sets the engine's memory."""
PAIR_BATCH = 5_000
"""Pairs read back per batch: each row carries both records' prepared values, so rows are wide."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thresholds:
    """Match probability from which a pair is a sure duplicate, or worth a person's review."""

    duplicate: float = 0.99
    possible: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.possible <= self.duplicate <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= possible <= duplicate <= 1")


@dataclass(frozen=True)
class CandidatePair:
    a_id: Hashable
    b_id: Hashable
    score: float
    """Splink's match probability (0..1) of the pair."""
    verdict: Verdict
    reasons: tuple[str, ...]
    match_weight: float = 0.0


class EngineMemoryError(RuntimeError):
    """The engine's memory limit is too small for the list; the message says what to change."""


@dataclass
class MatchStats:
    """What a run did, for progress output and the benchmarks."""

    records: int = 0
    prepare_seconds: float = 0.0
    score_seconds: float = 0.0
    scored_pairs: int = 0
    """Pairs at or above the "possible" threshold, before the domain rules."""
    kept_pairs: int = 0
    """Pairs left after the rules' SQL drop conditions."""
    capped_keys: dict[str, int] = field(default_factory=dict)
    """Per blocking rule, the keys more records shared than the backend's ``block_cap``."""
    largest_block: dict[str, int] = field(default_factory=dict)
    """Per blocking rule, how many records shared its most common key."""
    pairs_bound: int = 0
    """Candidate pairs at most (the blocks' pairs summed over the rules); sets the slices."""
    score_chunks: int = 1
    """Slices of the records scored one after the other."""


# ------------------------------------------------------------------ preparing records


def arrow_schema(spec: MatchSpec) -> pa.Schema:
    """Explicit types: a column that is empty in one list must still be a text or list column."""
    import pyarrow as pa

    def column_type(column: str) -> pa.DataType:
        if column in spec.list_columns:
            return pa.list_(pa.string())
        if column in spec.bool_columns:
            return pa.bool_()
        return pa.string()

    columns = [(column, column_type(column)) for column in spec.prepared_columns]
    return pa.schema([(UNIQUE_ID, pa.int64()), (RECORD_KEY, pa.string()), *columns])


class _Ids:
    """Record ids by position, checked unique; the caller's id objects are given back as they came.

    While every record's id is its position (records without one, as a long input file is
    numbered), no id is kept: ``ids`` is a ``range``, not a million objects.
    """

    def __init__(self, id_field: str) -> None:
        self.id_field = id_field
        self.count = 0
        self._kept: list[Hashable] | None = None
        self._seen: set[Hashable] = set()

    @property
    def ids(self) -> Sequence[Hashable]:
        return range(self.count) if self._kept is None else self._kept

    def add(self, record: Mapping[str, Any]) -> Hashable:
        """The record's id (its position when it has none)."""
        position = self.count
        record_id: Hashable = record.get(self.id_field, position)
        if self._kept is None and not (type(record_id) is int and record_id == position):
            self._kept = list(range(position))
            self._seen.update(self._kept)
        if self._kept is not None:
            if record_id in self._seen:
                raise ValueError(
                    f"record ids ({self.id_field!r}) must be unique within one list: {record_id!r} repeats"
                )
            self._seen.add(record_id)
            self._kept.append(record_id)
        self.count += 1
        return record_id

    def done(self) -> Sequence[Hashable]:
        self._seen.clear()
        return self.ids


def write_prepared(
    records: Iterable[Mapping[str, Any]], spec: MatchSpec, path: Path, *, default_region: str, id_field: str
) -> Sequence[Hashable]:
    """Prepare ``records`` chunk by chunk into a Parquet file; the record ids by position."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(spec)
    ids = _Ids(id_field)
    with pq.ParquetWriter(str(path), schema) as writer:
        chunk: list[dict[str, Any]] = []
        for record in records:
            position = ids.count
            record_id = ids.add(record)
            row = spec.prepare_record(record, default_region)
            row[UNIQUE_ID] = position
            row[RECORD_KEY] = str(record_id)
            chunk.append(row)
            if len(chunk) >= CHUNK:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        # An empty list still gets a file with the columns, so that SQL sees a well-formed table.
        writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
    return ids.done()


def prepare(
    records: Iterable[Mapping[str, Any]],
    spec: MatchSpec,
    *,
    default_region: str = "DE",
    id_field: str = "id",
) -> pd.DataFrame:
    """One row per record: its id, the cleaned display values and the derived comparison columns.

    For looking at small lists (and for training); matching itself never builds this frame.
    """
    ids = _Ids(id_field)
    rows = []
    for record in records:
        ids.add(record)
        rows.append(spec.prepare_record(record, default_region))
    frame = pd.DataFrame.from_records(rows, columns=list(spec.prepared_columns))
    frame.insert(0, RECORD_ID, pd.Series(list(ids.done()), dtype=object))
    frame.insert(0, UNIQUE_ID, list(range(len(frame))))
    return frame


def splink_input(prepared: pd.DataFrame, spec: MatchSpec) -> pa.Table:
    """A prepared frame as Splink reads it: the internal id and the comparison columns, typed."""
    import pyarrow as pa

    frame = prepared.assign(**{RECORD_KEY: prepared[RECORD_ID].astype(str)})
    schema = arrow_schema(spec)
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


# ------------------------------------------------------------------ scoring and rules


PairKey = tuple[Hashable, Hashable] | frozenset[Hashable]


def _pair_key(a_id: Hashable, b_id: Hashable, symmetric: bool) -> PairKey:
    return frozenset((a_id, b_id)) if symmetric else (a_id, b_id)


def _kept_pairs_sql(predictions: str, spec: MatchSpec, link_type: LinkType, extra: str | None = None) -> str:
    """The pairs the rules keep, oriented (a on the left), with both records' prepared values."""
    columns = [RECORD_KEY, *spec.prepared_columns]
    selected = [
        "p.match_weight",
        *(f"p.{gamma_column(c.name)}" for c in spec.comparisons),
        *(f"{side}.{column} AS {column}_{side}" for side in ("l", "r") for column in [UNIQUE_ID, *columns]),
    ]
    if link_type == "dedupe_only":
        joins = (
            f"JOIN prepared_a l ON l.{UNIQUE_ID} = p.{UNIQUE_ID}_l JOIN prepared_a r ON r.{UNIQUE_ID} = p.{UNIQUE_ID}_r"
        )
    else:
        # Splink may put either list on the left; turn every pair so that list a is on the left.
        joins = (
            f"JOIN prepared_a l ON l.{UNIQUE_ID} = CASE WHEN p.source_dataset_l = 'a' "
            f"THEN p.{UNIQUE_ID}_l ELSE p.{UNIQUE_ID}_r END "
            f"JOIN prepared_b r ON r.{UNIQUE_ID} = CASE WHEN p.source_dataset_l = 'a' "
            f"THEN p.{UNIQUE_ID}_r ELSE p.{UNIQUE_ID}_l END"
        )
    conditions = [f"NOT ({drop})" for drop in (drop_sql(rule, spec) for rule in spec.drops)]
    if extra:
        conditions.append(f"({extra})")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {', '.join(selected)} FROM {predictions} p {joins}{where}"


@dataclass
class _ScoredPair:
    left: dict[str, Any]
    right: dict[str, Any]
    levels: dict[str, LevelDef | None]
    score: float
    weight: float
    outcomes: list[RuleOutcome] = field(default_factory=list)


def match_probability(weight: float) -> float:
    """Splink's probability of a match weight, computed here rather than taken from the engine.

    The weight is a sum in a fixed order and comes out the same on DuckDB and Spark; the
    probability is 1 / (1 + 2^-weight), and the engines' ``POWER`` differ in the last bit or two
    (DuckDB's is the C library's, as Python's is; Spark's is Java's): at 1,000,000 records 7 of
    953,137 pairs had 0.9756126352946364 on one engine and ...362 on the other, with equal
    weights, and sorted differently among their ties. This is Splink's formula, in its branches.
    """
    if weight >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -weight))
    return math.pow(2.0, weight) / (1.0 + math.pow(2.0, weight))


def _scored_pairs(session: Session, sql: str, spec: MatchSpec) -> Iterator[_ScoredPair]:
    """Each row as two records' prepared values and the levels, with the post-rules applied."""
    columns = [UNIQUE_ID, RECORD_KEY, *spec.prepared_columns]
    for batch in session.rows(sql, PAIR_BATCH):
        for row in batch:
            left = {column: row[f"{column}_l"] for column in columns}
            right = {column: row[f"{column}_r"] for column in columns}
            levels = {c.name: c.level_for_gamma(int(row[gamma_column(c.name)])) for c in spec.comparisons}
            weight = float(row["match_weight"])
            pair = _ScoredPair(left, right, levels, match_probability(weight), weight)
            view = PairView(left=left, right=right, levels=levels)
            for rule in spec.post_rules:
                outcome = rule(view)
                if outcome is not None:
                    pair.outcomes.append(outcome)
            yield pair


def _values_matched_by_doubtful_records(
    pairs: Iterable[_ScoredPair], symmetric: bool
) -> dict[tuple[str, int], set[str]]:
    """For every record in doubt (e.g. one with only an initial), the distinct values it matched.

    In a dedupe run (``symmetric``) "left" and "right" are the same list, so a record's matches
    on either side are pooled; across two lists the sides keep the two lists' ids apart.
    """
    matched: dict[tuple[str, int], set[str]] = {}
    for pair in pairs:
        if any(outcome.drop for outcome in pair.outcomes):
            continue
        for outcome in pair.outcomes:
            if outcome.ambiguity is None:
                continue
            side, value = outcome.ambiguity
            record = int((pair.left if side == "left" else pair.right)[UNIQUE_ID])
            matched.setdefault((side, record), set()).add(value)
            if symmetric:
                other_side = "right" if side == "left" else "left"
                matched.setdefault((other_side, record), set()).add(value)
    return matched


def _verdict(
    pair: _ScoredPair, spec: MatchSpec, thresholds: Thresholds, matched: Mapping[tuple[str, int], set[str]]
) -> tuple[Verdict, tuple[str, ...]]:
    reasons: list[str] = []
    for comparison in spec.comparisons:
        level = pair.levels[comparison.name]
        if level is not None:
            reasons.extend(comparison.explain(level, pair.left, pair.right))
    capped = False
    for outcome in pair.outcomes:
        if outcome.ambiguity is not None and outcome.cap_at_possible:
            side, _ = outcome.ambiguity
            record = int((pair.left if side == "left" else pair.right)[UNIQUE_ID])
            if count_distinct_names(matched.get((side, record), ())) == 1:
                reasons.append("rule: the initial fits only this one name in the list")
                continue
        if outcome.reason:
            reasons.append(outcome.reason)
        capped = capped or outcome.cap_at_possible
    verdict: Verdict = "duplicate" if pair.score >= thresholds.duplicate and not capped else "possible"
    return verdict, tuple(reasons)


def iter_duplicates(
    records_a: Iterable[Mapping[str, Any]],
    records_b: Iterable[Mapping[str, Any]] | None = None,
    *,
    spec: MatchSpec,
    model: MatchModel | None = None,
    thresholds: Thresholds = Thresholds(),
    exclude: Collection[tuple[Hashable, Hashable]] = (),
    backend: Backend | None = None,
    default_region: str = "DE",
    id_field: str = "id",
    stats: MatchStats | None = None,
) -> Iterator[CandidatePair]:
    """Candidate duplicate pairs within ``records_a``, or between ``records_a`` and ``records_b``.

    Pairs come one at a time, best first (then by the two ids), so that a caller can write
    millions of them without holding them. ``exclude`` holds pairs a person has declared not to
    be duplicates (by id; for one list the order within a pair does not matter, across lists it
    is (a id, b id)); ``a_id`` is always from ``records_a``.
    """
    model = model or default_model(spec)
    stats = stats if stats is not None else MatchStats()
    backend = backend or default_backend()
    symmetric = records_b is None
    excluded = {_pair_key(a, b, symmetric) for a, b in exclude}
    with tempfile.TemporaryDirectory(prefix="einklang-match-") as folder:
        workdir = Path(folder)
        started = time.perf_counter()
        ids_a = write_prepared(records_a, spec, workdir / "a.parquet", default_region=default_region, id_field=id_field)
        ids_b = ids_a
        if records_b is not None:
            ids_b = write_prepared(
                records_b, spec, workdir / "b.parquet", default_region=default_region, id_field=id_field
            )
        stats.records = len(ids_a) + (len(ids_b) if records_b is not None else 0)
        stats.prepare_seconds = time.perf_counter() - started
        if (symmetric and len(ids_a) < 2) or (not symmetric and (not ids_a or not ids_b)):
            return
        link_type: LinkType = "dedupe_only" if symmetric else "link_only"
        session: Session | None = None
        try:
            session = backend.open_session(workdir)
            blocking = _cap_blocks(backend, session, workdir, spec, symmetric, stats)
            yield from _score_and_explain(
                session,
                backend.pairs_per_slice,
                workdir,
                spec,
                blocking,
                model,
                link_type,
                thresholds,
                stats,
                ids_a,
                ids_b,
                excluded,
            )
        except Exception as error:  # DuckDB's own type, or Splink's wrapping of it
            if "Out of Memory" in str(error):
                raise EngineMemoryError(
                    f"the matching engine ran out of its memory limit with {stats.records:,} records; raise "
                    "dedupe.memory_limit in the configuration (e.g. 2GB or 4GB; DuckDB spills to disk "
                    "beyond it) or use --engine spark"
                ) from error
            raise
        finally:
            if session is not None:
                session.close()


def _cap_blocks(
    backend: Backend, session: Session, workdir: Path, spec: MatchSpec, symmetric: bool, stats: MatchStats
) -> MatchSpec:
    """The spec to block with: its rules on capped keys (files ``*.blocked.parquet``), or itself.

    On DuckDB the counting shares the session's connection (one buffer pool, not two).
    """
    if backend.block_cap is None:
        return spec
    names = ["a"] if symmetric else ["a", "b"]
    shared = session.duckdb_connection()
    connection = shared if shared is not None else backend.file_connection(workdir)
    try:
        capped = cap_blocking_keys(
            connection,
            [workdir / f"{name}.parquet" for name in names],
            [workdir / f"{name}.blocked.parquet" for name in names],
            spec.blocking_rules,
            backend.block_cap,
        )
    finally:
        if shared is None:
            connection.close()
    stats.capped_keys, stats.largest_block = capped.capped_keys, capped.largest_block
    stats.pairs_bound = capped.pairs_bound
    if capped.total_capped:
        _log.info(
            "blocking keys shared by more than %d records, not used to pair: %s", backend.block_cap, capped.capped_keys
        )
    return replace(spec, blocking_rules=capped.rules)


def _score_in_chunks(
    session: Session,
    pairs_per_slice: int | None,
    workdir: Path,
    linker: Linker,
    spec: MatchSpec,
    link_type: LinkType,
    thresholds: Thresholds,
    stats: MatchStats,
) -> str:
    """Score the blocked pairs a slice of the records at a time; the table of the pairs kept.

    Each slice's blocked and scored pairs exist only while it is scored: what survives the rules'
    drop conditions (in a big list most scored pairs are colleagues they drop; and only ids,
    score and levels) goes to a Parquet file, so the engine holds one slice's pairs at a time.
    """
    chunks = 1
    if pairs_per_slice:
        chunks = max(1, -(-stats.pairs_bound // pairs_per_slice), -(-stats.records // RECORDS_PER_SLICE))
    kept_files = []
    for number in range(1, chunks + 1):
        predictions = linker.inference.predict_chunk(
            left_chunk=(number, chunks),
            right_chunk=(1, 1),
            threshold_match_probability=thresholds.possible,
            warning_mode="never",
        )
        for row in session.rows(f"SELECT count(*) AS n FROM {predictions.physical_name}", 1):
            stats.scored_pairs += int(row[0]["n"])
        kept_files.append(workdir / "kept" / f"{number}.parquet")
        session.save(_surviving_scores_sql(predictions.physical_name, spec, link_type), kept_files[-1])
        predictions.drop_table_from_database_and_remove_from_cache()
    stats.score_chunks = chunks
    session.load_parquet("kept_scores", *kept_files)
    return "kept_scores"


def _surviving_scores_sql(predictions: str, spec: MatchSpec, link_type: LinkType) -> str:
    columns = [f"p.{UNIQUE_ID}_l", f"p.{UNIQUE_ID}_r", "p.match_weight"]
    columns += [f"p.{gamma_column(c.name)}" for c in spec.comparisons]
    if link_type != "dedupe_only":
        columns.append("p.source_dataset_l")
    conditions = [f"NOT ({drop_sql(rule, spec)})" for rule in spec.drops]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {', '.join(columns)} FROM {predictions} p{where}"


def _prepared_file(workdir: Path, name: str, blocking: MatchSpec, spec: MatchSpec) -> Path:
    return workdir / (f"{name}.blocked.parquet" if blocking is not spec else f"{name}.parquet")


def _score_and_explain(
    session: Session,
    pairs_per_slice: int | None,
    workdir: Path,
    spec: MatchSpec,
    blocking: MatchSpec,
    model: MatchModel,
    link_type: LinkType,
    thresholds: Thresholds,
    stats: MatchStats,
    ids_a: Sequence[Hashable],
    ids_b: Sequence[Hashable],
    excluded: set[PairKey],
) -> Iterator[CandidatePair]:
    started = time.perf_counter()
    symmetric = link_type == "dedupe_only"
    session.load_parquet("prepared_a", _prepared_file(workdir, "a", blocking, spec))
    tables = [session.database_api.register("prepared_a", dataset_display_name="a")]
    if not symmetric:
        session.load_parquet("prepared_b", _prepared_file(workdir, "b", blocking, spec))
        tables.append(session.database_api.register("prepared_b", dataset_display_name="b"))
    settings = splink_settings(blocking, model, link_type)
    linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level=None)
    table = _score_in_chunks(session, pairs_per_slice, workdir, linker, spec, link_type, thresholds, stats)
    stats.score_seconds = time.perf_counter() - started
    matched: dict[tuple[str, int], set[str]] = {}
    if spec.ambiguity_sql is not None:
        # Whether an initial fits one name or several is known only from all of its pairs.
        doubtful = _kept_pairs_sql(table, spec, link_type, extra=spec.ambiguity_sql)
        matched = _values_matched_by_doubtful_records(
            (
                pair
                for pair in _scored_pairs(session, doubtful, spec)
                if not excluded
                or _pair_key(ids_a[int(pair.left[UNIQUE_ID])], ids_b[int(pair.right[UNIQUE_ID])], symmetric)
                not in excluded
            ),
            symmetric,
        )
    # By weight, not by the engine's probability: see match_probability.
    ordered = _kept_pairs_sql(table, spec, link_type) + " ORDER BY p.match_weight DESC, l.record_key, r.record_key"
    for pair in _scored_pairs(session, ordered, spec):
        stats.kept_pairs += 1
        if any(outcome.drop for outcome in pair.outcomes):
            continue
        a_id, b_id = ids_a[int(pair.left[UNIQUE_ID])], ids_b[int(pair.right[UNIQUE_ID])]
        if excluded and _pair_key(a_id, b_id, symmetric) in excluded:
            continue
        verdict, reasons = _verdict(pair, spec, thresholds, matched)
        yield CandidatePair(a_id, b_id, pair.score, verdict, reasons, pair.weight)


def find_duplicates(
    records_a: Iterable[Mapping[str, Any]],
    records_b: Iterable[Mapping[str, Any]] | None = None,
    *,
    spec: MatchSpec,
    model: MatchModel | None = None,
    thresholds: Thresholds = Thresholds(),
    exclude: Collection[tuple[Hashable, Hashable]] = (),
    backend: Backend | None = None,
    default_region: str = "DE",
    id_field: str = "id",
    stats: MatchStats | None = None,
) -> list[CandidatePair]:
    """:func:`iter_duplicates` as a list (for lists whose pairs fit in memory)."""
    return list(
        iter_duplicates(
            records_a,
            records_b,
            spec=spec,
            model=model,
            thresholds=thresholds,
            exclude=exclude,
            backend=backend,
            default_region=default_region,
            id_field=id_field,
            stats=stats,
        )
    )

"""Finding duplicate records: prepare, block, score with Splink, apply domain rules, explain.

Splink (Fellegi-Sunter) gives each candidate pair a match probability from per-field agreement
levels. Some knowledge about people does not fit that model of independent evidence (a
different given name vetoes everything else); the spec's post-rules apply it afterwards and say
so in the reasons, so every verdict can be traced.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from splink import Linker

from einklang.match.backend import Backend, default_backend
from einklang.match.model import LinkType, MatchModel, default_model, splink_settings
from einklang.match.spec import LevelDef, MatchSpec, PairView, RuleOutcome

if TYPE_CHECKING:
    import pyarrow as pa

Verdict = Literal["duplicate", "possible"]

RECORD_ID = "record_id"
UNIQUE_ID = "unique_id"


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


def _record_ids(records: Sequence[Mapping[str, Any]], id_field: str) -> list[Hashable]:
    ids: list[Hashable] = [record.get(id_field, position) for position, record in enumerate(records)]
    if len(set(ids)) != len(ids):
        raise ValueError(f"record ids ({id_field!r}) must be unique within one list")
    return ids


def prepare(
    records: Iterable[Mapping[str, Any]],
    spec: MatchSpec,
    *,
    default_region: str = "DE",
    id_field: str = "id",
) -> pd.DataFrame:
    """One row per record: its id, the cleaned display values and the derived comparison columns.

    A record's id is its ``id_field`` value, or its position in the list when it has none.
    """
    materialised = list(records)
    ids = _record_ids(materialised, id_field)
    rows = [spec.prepare_record(record, default_region) for record in materialised]
    frame = pd.DataFrame.from_records(rows, columns=list(spec.prepared_columns))
    frame.insert(0, RECORD_ID, pd.Series(ids, dtype=object))
    # Splink needs one id type; strings of the position keep ids of any type apart and unique.
    frame.insert(0, UNIQUE_ID, [str(position) for position in range(len(frame))])
    return frame


def arrow_schema(spec: MatchSpec) -> pa.Schema:
    """Explicit types: a column that is empty in one list must still be a text or list column."""
    import pyarrow as pa

    def column_type(column: str) -> pa.DataType:
        if column in spec.list_columns:
            return pa.list_(pa.string())
        if column in spec.bool_columns:
            return pa.bool_()
        return pa.string()

    return pa.schema([(UNIQUE_ID, pa.string()), *((column, column_type(column)) for column in spec.prepared_columns)])


def splink_input(prepared: pd.DataFrame, spec: MatchSpec) -> pa.Table:
    """The columns Splink reads: the internal id and the comparison columns, typed for SQL."""
    import pyarrow as pa

    schema = arrow_schema(spec)
    return pa.Table.from_pandas(prepared[schema.names], schema=schema, preserve_index=False)


PairKey = tuple[Hashable, Hashable] | frozenset[Hashable]


def _pair_key(a_id: Hashable, b_id: Hashable, symmetric: bool) -> PairKey:
    return frozenset((a_id, b_id)) if symmetric else (a_id, b_id)


def _score(
    tables: list[pd.DataFrame],
    spec: MatchSpec,
    model: MatchModel,
    link_type: LinkType,
    threshold: float,
    backend: Backend,
) -> pd.DataFrame:
    db_api = backend.database_api()
    registered = [
        db_api.register(splink_input(table, spec), dataset_display_name=name)
        for name, table in zip(("a", "b"), tables, strict=False)
    ]
    linker = Linker(
        registered if len(registered) > 1 else registered[0],
        splink_settings(spec, model, link_type),
        log_level=None,
    )
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    wanted = ["match_probability", "match_weight", "unique_id_l", "unique_id_r"]
    wanted += [f"gamma_{comparison.name}" for comparison in spec.comparisons]
    if link_type == "link_only":
        wanted += ["source_dataset_l", "source_dataset_r"]
    result: pd.DataFrame = predictions.as_pandas_dataframe()[wanted]  # type: ignore[no-untyped-call]
    predictions.drop_table_from_database_and_remove_from_cache()
    return result


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
) -> list[CandidatePair]:
    """Candidate duplicate pairs within ``records_a``, or between ``records_a`` and ``records_b``.

    ``exclude`` holds pairs a person has declared not to be duplicates (by id; for one list the
    order within a pair does not matter, across lists it is (a id, b id)). Pairs come back best
    first; ``a_id`` is always from ``records_a``.
    """
    model = model or default_model(spec)
    prepared_a = prepare(records_a, spec, default_region=default_region, id_field=id_field)
    prepared_b = None
    if records_b is not None:
        prepared_b = prepare(records_b, spec, default_region=default_region, id_field=id_field)
    if prepared_b is None:
        if len(prepared_a) < 2:
            return []
        tables, link_type = [prepared_a], "dedupe_only"
    else:
        if len(prepared_a) == 0 or len(prepared_b) == 0:
            return []
        tables, link_type = [prepared_a, prepared_b], "link_only"
    scored = _score(tables, spec, model, link_type, thresholds.possible, backend or default_backend())  # type: ignore[arg-type]
    return _candidate_pairs(scored, prepared_a, prepared_b, spec, thresholds, exclude)


def _candidate_pairs(
    scored: pd.DataFrame,
    prepared_a: pd.DataFrame,
    prepared_b: pd.DataFrame | None,
    spec: MatchSpec,
    thresholds: Thresholds,
    exclude: Collection[tuple[Hashable, Hashable]],
) -> list[CandidatePair]:
    symmetric = prepared_b is None
    excluded = {_pair_key(a, b, symmetric) for a, b in exclude}
    if symmetric:
        left_ids, right_ids = scored["unique_id_l"], scored["unique_id_r"]
        left_table = right_table = prepared_a
    else:
        # Splink may put either list on the left; turn every pair so that a is on the left.
        flipped = scored["source_dataset_l"] != "a"
        left_ids = scored["unique_id_l"].where(~flipped, scored["unique_id_r"])
        right_ids = scored["unique_id_r"].where(~flipped, scored["unique_id_l"])
        left_table, right_table = prepared_a, prepared_b
    assert right_table is not None
    left_rows = _rows_for(left_table, left_ids)
    right_rows = _rows_for(right_table, right_ids)
    gamma_columns = [(comparison, scored[f"gamma_{comparison.name}"].to_numpy()) for comparison in spec.comparisons]
    probabilities = scored["match_probability"].to_numpy()
    weights = scored["match_weight"].to_numpy()
    drafts: list[_Draft] = []
    for index, (left_id, right_id) in enumerate(zip(left_ids, right_ids, strict=True)):
        left, right = left_rows[left_id], right_rows[right_id]
        a_id, b_id = left[RECORD_ID], right[RECORD_ID]
        if excluded and _pair_key(a_id, b_id, symmetric) in excluded:
            continue
        levels: dict[str, LevelDef | None] = {
            comparison.name: comparison.level_for_gamma(int(gammas[index])) for comparison, gammas in gamma_columns
        }
        draft = _Draft(left_id, right_id, a_id, b_id, float(probabilities[index]), float(weights[index]))
        view = PairView(left=left, right=right, levels=levels)
        for rule in spec.post_rules:
            outcome = rule(view)
            if outcome is not None:
                draft.outcomes.append(outcome)
        if any(outcome.drop for outcome in draft.outcomes):
            continue
        # Explained only once kept: most scored pairs in big lists are colleagues the rules drop.
        for comparison, _ in gamma_columns:
            level = levels[comparison.name]
            if level is not None:
                draft.reasons.extend(comparison.explain(level, left, right))
        drafts.append(draft)
    matched_values = _values_matched_by_doubtful_records(drafts, symmetric)
    pairs: list[CandidatePair] = []
    for draft in drafts:
        reasons, capped = list(draft.reasons), False
        for outcome in draft.outcomes:
            if outcome.ambiguity is not None and outcome.cap_at_possible:
                side, _ = outcome.ambiguity
                record = draft.left_key if side == "left" else draft.right_key
                if len(matched_values[(side, record)]) == 1:
                    reasons.append("rule: the initial fits only this one name in the list")
                    continue
            if outcome.reason:
                reasons.append(outcome.reason)
            capped = capped or outcome.cap_at_possible
        verdict: Verdict = "duplicate" if draft.score >= thresholds.duplicate and not capped else "possible"
        pairs.append(CandidatePair(draft.a_id, draft.b_id, draft.score, verdict, tuple(reasons), draft.weight))
    pairs.sort(key=lambda pair: (-pair.score, str(pair.a_id), str(pair.b_id)))
    return pairs


@dataclass
class _Draft:
    left_key: str
    right_key: str
    a_id: Hashable
    b_id: Hashable
    score: float
    weight: float
    reasons: list[str] = field(default_factory=list)
    outcomes: list[RuleOutcome] = field(default_factory=list)


def _values_matched_by_doubtful_records(drafts: list[_Draft], symmetric: bool) -> dict[tuple[str, str], set[str]]:
    """For every record in doubt (e.g. one with only an initial), the distinct values it matched.

    In a dedupe run (``symmetric``) "left" and "right" are the same list, so a record's matches
    on either side are pooled; across two lists the sides keep the two lists' ids apart.
    """
    matched: dict[tuple[str, str], set[str]] = {}
    for draft in drafts:
        for outcome in draft.outcomes:
            if outcome.ambiguity is None:
                continue
            side, value = outcome.ambiguity
            record = draft.left_key if side == "left" else draft.right_key
            matched.setdefault((side, record), set()).add(value)
            if symmetric:
                other_side = "right" if side == "left" else "left"
                matched.setdefault((other_side, record), set()).add(value)
    return matched


def _rows_for(table: pd.DataFrame, unique_ids: pd.Series) -> dict[str, dict[str, Any]]:
    """Only the records that appear in pairs, as dicts (cheap even for a million-record list)."""
    needed = pd.unique(unique_ids.astype(str))
    subset = table.set_index(UNIQUE_ID, drop=False).loc[needed]
    subset = subset.astype(object).where(subset.notna(), None)
    return {str(key): row for key, row in zip(subset.index, subset.to_dict("records"), strict=True)}

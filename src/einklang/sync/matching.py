"""Fuzzy matching of new records against a system's existing ones (initial load, sync creates).

Exact keys come first elsewhere; this is the second line: the Splink-based matcher of
``einklang.match``. A sure match may be linked; a possible match must go to a person, never be
created blindly (I2: no duplicates).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from einklang.config_models import MatchConfig
from einklang.model import CanonicalRecord, display


@dataclass(frozen=True)
class FuzzyMatch:
    new_id: str
    existing_id: str
    score: float
    sure: bool
    reasons: tuple[str, ...]

    def describe(self) -> str:
        kind = "duplicate" if self.sure else "possible duplicate"
        return f"{kind} of {self.existing_id} (score {self.score:.3f}: {'; '.join(self.reasons)})"


def best_matches(
    settings: MatchConfig,
    new_records: Mapping[str, CanonicalRecord],
    existing: Mapping[str, CanonicalRecord],
    default_region: str,
    exclude: set[tuple[Hashable, Hashable]] | None = None,
) -> dict[str, list[FuzzyMatch]]:
    """Per new record id, its candidate existing records, best first."""
    if not new_records or not existing:
        return {}
    # imported here: Splink, DuckDB and pandas cost ~150 MB and seconds, and most runs never match
    from einklang.match import SPECS, Thresholds, find_duplicates

    spec = SPECS[settings.spec]
    rows_a = [{"id": key, **_plain(record)} for key, record in new_records.items()]
    rows_b = [{"id": key, **_plain(record)} for key, record in existing.items()]
    pairs = find_duplicates(
        rows_a,
        rows_b,
        spec=spec,
        thresholds=Thresholds(duplicate=settings.duplicate, possible=settings.possible),
        exclude=exclude or set(),
        default_region=default_region,
    )
    result: dict[str, list[FuzzyMatch]] = {}
    for pair in pairs:
        result.setdefault(str(pair.a_id), []).append(
            FuzzyMatch(str(pair.a_id), str(pair.b_id), pair.score, pair.verdict == "duplicate", pair.reasons)
        )
    for candidates in result.values():
        candidates.sort(key=lambda match: match.score, reverse=True)
    return result


def _plain(record: CanonicalRecord) -> dict[str, str | None]:
    return {name: (display(value) or None) for name, value in record.items()}

"""Merging the same person found in several input rows (three exports, one person) into one record.

Rows joined by a sure duplicate pair form a group (transitively). The merged record keeps, per
field, the value most rows agree on; ties go to the spelling with umlauts (``Müller`` is what
``Mueller`` stands for, never the other way round), then to the row that is most complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from einklang.importer.incoming import IncomingRow
from einklang.match import CandidatePair
from einklang.normalize import fold


@dataclass
class MergedContact:
    """One person of the input: the rows it was found in and the best values among them."""

    key: str
    rows: list[IncomingRow]
    values: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.fingerprint for row in self.rows))

    @property
    def sources(self) -> list[str]:
        return [row.location for row in self.rows]

    def completeness(self) -> int:
        return sum(1 for value in self.values.values() if value)

    def display_name(self) -> str:
        name = " ".join(v for v in (self.values.get("first_name"), self.values.get("last_name")) if v)
        return name or self.values.get("company", "") or self.key


def merge_rows(rows: Sequence[IncomingRow], sure_pairs: Sequence[CandidatePair]) -> list[MergedContact]:
    """Group ``rows`` (ids: their index as str) by the sure pairs; keep the input order of groups."""
    parent = list(range(len(rows)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for pair in sure_pairs:
        if pair.verdict != "duplicate":
            continue
        a, b = root(int(str(pair.a_id))), root(int(str(pair.b_id)))
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[IncomingRow]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(root(index), []).append(row)
    merged = []
    for number, members in enumerate(groups.values(), start=1):
        merged.append(MergedContact(f"M{number}", members, best_values(members)))
    return merged


def best_values(rows: Sequence[IncomingRow]) -> dict[str, str]:
    ranked = sorted(rows, key=lambda row: -row.completeness())
    names = dict.fromkeys(name for row in ranked for name in row.values)
    result: dict[str, str] = {}
    for name in names:
        candidates = [row.values[name] for row in ranked if row.values.get(name)]
        if candidates:
            result[name] = _best(candidates)
    return result


def _best(candidates: Sequence[str]) -> str:
    votes: dict[str, int] = {}
    for value in candidates:
        votes[fold(value) or value] = votes.get(fold(value) or value, 0) + 1
    position = {value: index for index, value in reversed(list(enumerate(candidates)))}

    def quality(value: str) -> tuple[int, int, int]:
        return (votes[fold(value) or value], int(not value.isascii()), -position[value])

    return max(candidates, key=quality)

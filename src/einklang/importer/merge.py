"""Merging the same person found in several input rows (three exports, one person) into one record.

Rows joined by a sure duplicate pair form a group (transitively). The merged record keeps, per
field, the value most rows agree on; ties go to the spelling with umlauts (``Müller`` is what
``Mueller`` stands for, never the other way round), then to the row that is most complete.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

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
    groups = RowGroups()
    groups.grow(len(rows))
    for pair in sure_pairs:
        if pair.verdict == "duplicate":
            groups.join(int(str(pair.a_id)), int(str(pair.b_id)))
    members: dict[int, list[IncomingRow]] = {}
    for index, row in enumerate(rows):
        members.setdefault(groups.root(index), []).append(row)
    return [
        MergedContact(f"M{number}", group, best_values(group)) for number, group in enumerate(members.values(), start=1)
    ]


class RowGroups:
    """Rows joined by sure duplicate pairs (union-find over row positions, 8 bytes a row).

    The root of a group is always its first row (the smallest position), so walking the rows in
    input order meets each group at its first row: the order in which merged contacts are numbered.
    """

    def __init__(self) -> None:
        self._parent = array("q")

    def grow(self, count: int) -> None:
        """Make room for rows up to position ``count - 1``, each its own group."""
        self._parent.extend(range(len(self._parent), count))

    def __len__(self) -> int:
        return len(self._parent)

    def root(self, index: int) -> int:
        parent = self._parent
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    def join(self, a: int, b: int) -> None:
        a, b = self.root(a), self.root(b)
        if a != b:
            self._parent[max(a, b)] = min(a, b)

    def members(self) -> dict[int, list[int]]:
        """root -> positions of the groups with more than one row (the rest are single rows)."""
        groups: dict[int, list[int]] = {}
        for index in range(len(self._parent)):
            if self._parent[index] != index:
                root = self.root(index)
                groups.setdefault(root, [root]).append(index)
        return groups


def best_values(rows: Sequence[IncomingRow]) -> dict[str, str]:
    if len(rows) == 1:  # one row (most people): its own values, no vote to hold
        return {name: value for name, value in rows[0].values.items() if value}
    ranked = sorted(rows, key=lambda row: -row.completeness())
    names = dict.fromkeys(name for row in ranked for name in row.values)
    result: dict[str, str] = {}
    for name in names:
        candidates = [row.values[name] for row in ranked if row.values.get(name)]
        if candidates:
            result[name] = _best(candidates)
    return result


@lru_cache(maxsize=65536)
def _folded(value: str) -> str:
    return fold(value) or value


def _best(candidates: Sequence[str]) -> str:
    if len(candidates) == 1:
        return candidates[0]
    keys = [_folded(value) for value in candidates]
    votes = Counter(keys)
    position: dict[str, int] = {}
    for index, value in enumerate(candidates):
        position.setdefault(value, index)
    best_index = max(
        range(len(candidates)),
        key=lambda i: (votes[keys[i]], int(not candidates[i].isascii()), -position[candidates[i]]),
    )
    return candidates[best_index]

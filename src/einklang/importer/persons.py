"""The persons of an import's input, read back from its row store one at a time.

:class:`ReadRows` is the reading side: every batch of rows goes to the row store, and its
fingerprints are looked up in the state store right away, keeping only the hits. :class:`Persons`
is the merged side: the rows joined by sure duplicate pairs (:class:`RowGroups`) make a person,
numbered ``M1, M2, ...`` in the order of their first row, as :func:`merge_rows` numbers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from einklang.importer.incoming import FileReport, IncomingRow
from einklang.importer.merge import MergedContact, RowGroups, best_values
from einklang.importer.row_store import RowStore
from einklang.match import CandidatePair

Lookup = Callable[[list[str]], dict[str, str]]
ExclusionLookup = Callable[[list[str]], dict[str, list[str]]]


class ReadRows:
    """What reading keeps: the rows (on disk), their groups, and the state store's hits."""

    def __init__(self, rows: RowStore, *, check_exclusions: bool) -> None:
        self.rows = rows
        self.check_exclusions = check_exclusions
        self.reports: list[FileReport] = []
        self.groups = RowGroups()
        self.known: dict[str, str] = {}
        """fingerprint -> golden id (or SKIPPED) of the rows an earlier run imported or skipped."""
        self.excluded: dict[str, set[str]] = {}
        """fingerprint -> native ids of target records declared "not a duplicate" of that row."""

    def add(self, batch: Sequence[IncomingRow], known: Lookup, exclusions: ExclusionLookup) -> int:
        """Store a batch of rows and look them up; the position of its first row."""
        first = self.rows.add(batch)
        self.groups.grow(self.rows.count)
        fingerprints = [row.fingerprint for row in batch]
        self.known.update(known(fingerprints))
        if self.check_exclusions:
            for fingerprint, native_ids in exclusions(fingerprints).items():
                self.excluded.setdefault(fingerprint, set()).update(native_ids)
        return first

    def exclusions_of(self, contact: MergedContact) -> Iterator[tuple[str, str]]:
        """(person key, target native id) for each "not a duplicate" decision about its rows."""
        for fingerprint in contact.fingerprints:
            for native_id in sorted(self.excluded.get(fingerprint, ())):
                yield contact.key, native_id


class Persons:
    """The merged contacts of the input, numbered from 1 in the order of their first row."""

    def __init__(self, rows: RowStore, groups: RowGroups) -> None:
        self.rows = rows
        self.groups = groups
        self.members = groups.members()
        self.count = len(groups) - sum(len(group) - 1 for group in self.members.values())

    def contacts(self, keep: bytearray | None = None) -> Iterator[tuple[int, MergedContact]]:
        """(number, person) in order; only the numbers set in ``keep`` when it is given."""
        number = 0
        for position, row in self.rows.rows():
            if self.groups.root(position) != position:
                continue  # a later row of a person met before
            number += 1
            if keep is not None and not keep[number]:
                continue
            group = self.members.get(position)
            rows = [row] if group is None else self.rows.get(group)
            yield number, MergedContact(f"M{number}", rows, best_values(rows))

    def rekeyed(self, possible: list[CandidatePair]) -> list[CandidatePair]:
        """Possible pairs of rows (by position) as pairs of different persons (by key), once each."""
        root = self.groups.root
        wanted = {root(int(str(p.a_id))) for p in possible} | {root(int(str(p.b_id))) for p in possible}
        numbers: dict[int, int] = {}
        number = 0
        if wanted:
            for position in range(len(self.groups)):
                if root(position) == position:
                    number += 1
                    if position in wanted:
                        numbers[position] = number
        inner: list[CandidatePair] = []
        seen: set[frozenset[str]] = set()
        for pair in possible:
            a = f"M{numbers[root(int(str(pair.a_id)))]}"
            b = f"M{numbers[root(int(str(pair.b_id)))]}"
            if a != b and frozenset((a, b)) not in seen:
                seen.add(frozenset((a, b)))
                inner.append(CandidatePair(a, b, pair.score, pair.verdict, pair.reasons, pair.match_weight))
        return inner

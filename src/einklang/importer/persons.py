"""The persons of an import's input, read back from its row store one at a time.

:class:`ReadRows` is the reading side: every batch of rows goes to the row store, and its
fingerprints are looked up in the state store right away, keeping only the hits. :class:`Persons`
is the merged side: the rows joined by sure duplicate pairs (:class:`RowGroups`) make a person,
numbered ``M1, M2, ...`` in the order of their first row, as :func:`merge_rows` numbers them.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence

from einklang.importer.incoming import FileReport, IncomingRow
from einklang.importer.merge import MergedContact, RowGroups, best_values
from einklang.importer.row_store import RowStore
from einklang.importer.spool import PairLog

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
        self._numbers: tuple[array[int], array[int]] | None = None

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

    def numbering(self) -> tuple[array[int], array[int]]:
        """(person number of each row position, 0 for a later row of a person; the first row's
        position of each person number, index 0 unused): 12 bytes a row, made once."""
        if self._numbers is None:
            root = self.groups.root
            number_of = array("I", bytes(4 * len(self.groups)))
            first_row = array("q", [-1])
            for position in range(len(self.groups)):
                if root(position) == position:
                    first_row.append(position)
                    number_of[position] = len(first_row) - 1
            self._numbers = (number_of, first_row)
        return self._numbers

    def person_pairs(self, pairs: PairLog) -> Iterator[tuple[int, int, int, float]]:
        """(pair number, person a, person b, score) of the pairs of rows (by position) that join
        two different persons, best first. A pair of persons may come more than once (from
        pairs of different rows of theirs); the first is the best."""
        number_of, _ = self.numbering()
        root = self.groups.root
        for pair_number, a, b, score in pairs.ids():
            person_a, person_b = number_of[root(int(a))], number_of[root(int(b))]
            if person_a != person_b:
                yield pair_number, person_a, person_b, score

    def by_number(self, numbers: Sequence[int]) -> dict[int, MergedContact]:
        """The persons with these numbers (read back from the row store)."""
        _, first_row = self.numbering()
        positions: dict[int, list[int]] = {
            number: self.members.get(first_row[number], [first_row[number]]) for number in numbers
        }
        rows = self.rows.get(position for group in positions.values() for position in group)
        found: dict[int, MergedContact] = {}
        start = 0
        for number, group in positions.items():
            person_rows = rows[start : start + len(group)]
            start += len(group)
            found[number] = MergedContact(f"M{number}", person_rows, best_values(person_rows))
        return found

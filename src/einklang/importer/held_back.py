"""New records an import holds back because another input record is possibly the same person.

Of two new records that are possibly the same person, the more complete is created and the
other waits in the review file with it as its candidate; a new record possibly the same as a
record linked to an existing one waits with that one as its candidate. Which is held back is
decided over the possible pairs within the input, best first, each person at most once.

Everything here is by person number (1, 2, ... in input order, see
:class:`einklang.importer.persons.Persons`) in flat arrays, a few bytes a person; the pairs
themselves, and what a later step needs to know about the records kept, stay on disk
(:mod:`einklang.importer.spool`). A file where most persons are held back (a list of one
company's colleagues, say) thus costs no more memory than one where none are.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass

from einklang.importer.spool import PairLog, Spool

HELD_CHUNK = 500
"""Held-back persons whose review rows are made at once (their rows read back together)."""


@dataclass(frozen=True)
class KeptRecord:
    """The record a held-back person waits beside, as its review row shows it."""

    native_id: str | None
    """Its id in the target; None when it was not created (a dry run, a failure, or held back too)."""
    version: str | None
    values: dict[str, str]
    sources: list[str]


class HeldBack:
    """Who is held back, beside whom, by which pair; and what became of the records kept."""

    def __init__(self, count: int, pairs: PairLog, kept: Spool) -> None:
        self.keeper = array("I", bytes(4 * (count + 1)))
        """person -> the person it waits beside (0: not held back)."""
        self.pair = array("q", bytes(8 * (count + 1)))
        """person -> the number of the pair (in ``pairs``) that held it back."""
        self.is_keeper = bytearray(count + 1)
        self.order = array("I")
        """The persons held back, in the order they were (the order of their review rows)."""
        self.pairs = pairs
        self._kept = kept

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and self.keeper[number] != 0

    def __len__(self) -> int:
        return len(self.order)

    def hold(self, number: int, beside: int, pair_number: int) -> None:
        self.keeper[number] = beside
        self.pair[number] = pair_number
        self.is_keeper[beside] = 1
        self.order.append(number)

    def keep(self, number: int, record: KeptRecord) -> None:
        """Note what became of a person others wait beside (only those are kept)."""
        if self.is_keeper[number]:
            self._kept.put(number, dataclasses.asdict(record))

    def kept(self, numbers: Iterable[int]) -> dict[int, KeptRecord]:
        return {number: KeptRecord(**data) for number, data in self._kept.get(numbers).items()}

    def chunks(self) -> Iterator[Sequence[int]]:
        """The held-back persons in order, :data:`HELD_CHUNK` at a time."""
        for start in range(0, len(self.order), HELD_CHUNK):
            yield self.order[start : start + HELD_CHUNK]


PersonPair = tuple[int, int, int, float]
"""(pair number, person a, person b, score)."""


def hold_back(
    held: HeldBack, person_pairs: Iterable[PersonPair], completeness: array[int], linked: Container[str]
) -> HeldBack:
    """Decide, over ``person_pairs`` (pair number, person a, person b, score; best first), who is
    held back. ``completeness``: by person, how many fields a new person in a pair has filled
    (-1 for the others); ``linked``: the keys (``M12``) of persons linked to an existing record."""
    for pair_number, a, b, _ in person_pairs:
        if held.keeper[a] or held.keeper[b]:
            continue
        complete_a, complete_b = completeness[a], completeness[b]
        if complete_a >= 0 and complete_b >= 0:
            keep, hold = (a, b) if complete_a >= complete_b else (b, a)
        elif complete_a >= 0 and f"M{b}" in linked:
            keep, hold = b, a
        elif complete_b >= 0 and f"M{a}" in linked:
            keep, hold = a, b
        else:
            continue
        held.hold(hold, keep, pair_number)
    return held

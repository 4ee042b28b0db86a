"""Pairs, values, review rows and who is held back: kept on disk or in flat arrays, read back
exactly as they went in, in the order the import needs them."""

from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from einklang.importer.held_back import HeldBack, KeptRecord, hold_back
from einklang.importer.incoming import IncomingRow
from einklang.importer.merge import RowGroups
from einklang.importer.persons import Persons
from einklang.importer.review import ReviewCandidate, ReviewRow
from einklang.importer.review_log import ReviewLog
from einklang.importer.row_store import RowStore
from einklang.match import CandidatePair


def _pair(a: object, b: object, score: float, reasons: tuple[str, ...] = ("name: same",)) -> CandidatePair:
    return CandidatePair(a, b, score, "possible", reasons, score * 10)


def test_pair_log_reads_back_best_first_keeping_the_order_of_equal_scores_and_the_ids_types() -> None:
    with RowStore() as rows:
        log = rows.pair_log("possible")
        added = [_pair(3, 4, 0.7), _pair(1, 2, 0.9), _pair(5, 6, 0.7), _pair("M1", "crm-9", 0.8, ("ä, €",))]
        numbers = [log.add(pair) for pair in added]
        assert numbers == [1, 2, 3, 4] and len(log) == 4
        assert list(log.ids()) == [(2, 1, 2, 0.9), (4, "M1", "crm-9", 0.8), (1, 3, 4, 0.7), (3, 5, 6, 0.7)]
        assert log.get([4, 1]) == {4: added[3], 1: added[0]}


def test_pair_log_groups_pairs_by_their_a_id_in_the_order_added() -> None:
    with RowStore() as rows:
        log = rows.pair_log("with_target")
        for pair in [_pair("M2", "x", 0.9), _pair("M1", "y", 0.95), _pair("M2", "z", 0.6)]:
            log.add(pair)
        assert log.of_a(["M2", "M3"]) == {"M2": [_pair("M2", "x", 0.9), _pair("M2", "z", 0.6)]}
        log.add(_pair("M3", "w", 0.5))  # the index made by the first lookup keeps up
        assert log.of_a(["M3"]) == {"M3": [_pair("M3", "w", 0.5)]}


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.floats(0, 1)), max_size=1200))
def test_pair_log_order_is_a_stable_sort_by_score(items: list[tuple[int, int, float]]) -> None:
    with RowStore() as rows:
        log = rows.pair_log("any")
        for a, b, score in items:
            log.add(_pair(a, b, score))
        expected = sorted(enumerate(items, start=1), key=lambda item: -item[1][2])
        assert [(number, a, b) for number, a, b, _ in log.ids()] == [(n, a, b) for n, (a, b, _) in expected]


def test_spool_keeps_json_values_by_key() -> None:
    with RowStore() as rows:
        spool = rows.spool("kept")
        spool.put(7, {"values": {"city": "Köln"}, "sources": ["a.csv:2"]})
        spool.put(3, None)
        assert spool.get([7, 3, 99]) == {7: {"values": {"city": "Köln"}, "sources": ["a.csv:2"]}, 3: None}


def _row(source_row: int, first: str, last: str) -> IncomingRow:
    return IncomingRow(
        "a.csv", source_row, source_row + 1, "csv", {"first_name": first, "last_name": last}, f"fp{source_row}"
    )


def test_persons_pairs_and_lookups_by_number_follow_the_merged_groups() -> None:
    with RowStore() as rows:
        rows.add(
            [_row(1, "Anna", "Schmidt"), _row(2, "Ralf", "Weber"), _row(3, "Anna", "Schmidt"), _row(4, "R.", "Weber")]
        )
        groups = RowGroups()
        groups.grow(4)
        groups.join(0, 2)  # Anna twice: person 1; Ralf person 2; R. Weber person 3
        persons = Persons(rows, groups)
        log = rows.pair_log("possible")
        log.add(_pair(1, 3, 0.8))  # Ralf / R.: persons 2 and 3
        log.add(_pair(0, 2, 0.7))  # rows of the same person: not a pair of persons
        log.add(_pair(3, 2, 0.6))  # R. / Anna's second row: persons 3 and 1
        assert list(persons.person_pairs(log)) == [(1, 2, 3, 0.8), (3, 3, 1, 0.6)]
        found = persons.by_number([3, 1])
        assert found[1].key == "M1" and [r.row for r in found[1].rows] == [1, 3]
        assert found[3].key == "M3" and found[3].values == {"first_name": "R.", "last_name": "Weber"}


def test_hold_back_keeps_the_more_complete_and_each_person_is_held_at_most_once() -> None:
    with RowStore() as rows:
        held = HeldBack(6, rows.pair_log("p"), rows.spool("kept"))
        completeness = array("i", [-1, 3, 5, 5, -1, 2, -1])
        pairs = [
            (1, 1, 2, 0.9),  # both new: 2 is more complete, 1 is held beside it
            (2, 1, 3, 0.8),  # 1 already held: skipped
            (3, 3, 2, 0.7),  # a tie: the first of the pair (3) is kept, 2 held
            (4, 5, 4, 0.6),  # 4 is linked to an existing record: 5 is held beside it
            (5, 6, 3, 0.5),  # 6 is neither new nor linked: nothing
        ]
        hold_back(held, pairs, completeness, {"M4"})
        assert list(held.order) == [1, 2, 5]
        assert (held.keeper[1], held.keeper[2], held.keeper[5]) == (2, 3, 4)
        assert (held.pair[1], held.pair[2], held.pair[5]) == (1, 3, 4)
        assert 1 in held and 3 not in held and len(held) == 3
        held.keep(3, KeptRecord("crm-1", "v1", {"last_name": "Weber"}, ["a.csv:4"]))
        held.keep(6, KeptRecord(None, None, {}, []))  # nobody waits beside 6: not kept
        assert held.kept([3, 6]) == {3: KeptRecord("crm-1", "v1", {"last_name": "Weber"}, ["a.csv:4"])}


def test_review_log_gives_back_the_rows_as_they_were_written_any_number_of_times() -> None:
    rows = [
        ReviewRow(
            review_id=f"R{n}",
            kind="contact",
            verdict="possible",
            score=0.75,
            reasons=["name: similar", '=HYPERLINK("x")'],
            sources=[f"a.csv:{n}"],
            status="",
            incoming={"last_name": "Müller"},
            candidates=[ReviewCandidate("crm-1", None, 0.75, {"city": "Köln"})],
            fingerprints=["fp"],
            system="crm",
            entity="contact",
            run_id=7,
        )
        for n in range(1, 4)
    ]
    log = ReviewLog()
    assert not log and list(log) == []
    for row in rows[:2]:
        log.append(row)
    assert list(log) == rows[:2]
    log.append(rows[2])
    assert len(log) == 3 and list(log) == rows and list(log) == rows
    log.close()

"""The matcher keeps no ids for records numbered by position (a long input file): a range."""

from __future__ import annotations

from pathlib import Path

import pytest

from einklang.match import CONTACT_SPEC, find_duplicates
from einklang.match.matcher import write_prepared

PEOPLE = [
    {"first_name": "Erika", "last_name": "Mustermann", "email": "erika@example.org"},
    {"first_name": "Erika", "last_name": "Mustermann", "email": "erika@example.org"},
    {"first_name": "Hans", "last_name": "Meier", "email": "hans@example.org"},
]


def test_records_without_ids_keep_a_range_not_a_list(tmp_path: Path) -> None:
    ids = write_prepared(PEOPLE * 1000, CONTACT_SPEC, tmp_path / "a.parquet", default_region="DE", id_field="id")
    assert ids == range(3000)  # nothing kept per record


def test_given_ids_are_kept_and_checked_unique(tmp_path: Path) -> None:
    records = [{**person, "id": f"r{n}"} for n, person in enumerate(PEOPLE)]
    ids = write_prepared(records, CONTACT_SPEC, tmp_path / "a.parquet", default_region="DE", id_field="id")
    assert list(ids) == ["r0", "r1", "r2"]
    # an id that repeats a position taken by a record without one
    mixed = [PEOPLE[0], PEOPLE[1], {**PEOPLE[2], "id": 1}]
    with pytest.raises(ValueError, match="must be unique"):
        write_prepared(mixed, CONTACT_SPEC, tmp_path / "b.parquet", default_region="DE", id_field="id")
    ids = write_prepared(
        [PEOPLE[0], {**PEOPLE[1], "id": "x"}], CONTACT_SPEC, tmp_path / "c.parquet", default_region="DE", id_field="id"
    )
    assert list(ids) == [0, "x"]


def test_pairs_of_records_without_ids_name_their_positions() -> None:
    pairs = find_duplicates(PEOPLE, spec=CONTACT_SPEC)
    assert [(pair.a_id, pair.b_id, pair.verdict) for pair in pairs] == [(0, 1, "duplicate")]

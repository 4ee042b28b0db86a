"""Capped blocking keys and scoring in slices: big blocks pair nobody, small ones as before."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from einklang.match import CONTACT_SPEC, PERSON_SPEC, DuckDBBackend, MatchStats, find_duplicates
from einklang.match._blocks import cap_blocking_keys, rule_key
from einklang.match.spec import ListBlock

SWITCHBOARD = "030 1234567"
OFFICE = {"company": "Muster GmbH", "street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin"}


def test_a_conjunction_of_equalities_becomes_one_key_per_side() -> None:
    key = rule_key("l.last_phonetic = r.last_phonetic AND substr(l.postal_key, 1, 2) = substr(r.postal_key, 1, 2)")
    assert key is not None and key.symmetric
    assert "l." not in key.left and "substr((postal_key), 1, 2)" not in key.left
    assert "substr(postal_key, 1, 2)" in key.left and "last_phonetic" in key.left


def test_swapped_rules_have_two_keys_and_either_order_of_sides_reads_alike() -> None:
    key = rule_key("l.first_phonetic = r.last_phonetic AND l.city_fold = r.city_fold")
    reversed_key = rule_key("r.last_phonetic = l.first_phonetic AND r.city_fold = l.city_fold")
    assert key is not None and not key.symmetric
    assert key == reversed_key
    assert "first_phonetic" in key.left and "last_phonetic" in key.right


@pytest.mark.parametrize(
    "rule",
    [
        "l.a = r.a OR l.b = r.b",
        "l.unique_id < r.unique_id",
        "l.a = r.a AND l.b <= r.b",
        "levenshtein(l.a, r.a) = 1",
        "l.a = l.b",
        "l.a = 'x'",
    ],
)
def test_other_rules_are_left_as_they_are(rule: str) -> None:
    assert rule_key(rule) is None


def test_a_key_is_empty_when_a_part_is_empty_as_the_equality_would_not_hold() -> None:
    key = rule_key("l.a = r.a AND l.b = r.b")
    assert key is not None
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('a', 'x'), (NULL, 'x')) v(a, b)")
    present, missing = (row[0] for row in connection.execute(f"SELECT {key.left} FROM t").fetchall())
    assert present is not None and missing is None


def _prepared(path: Path, rows: list[dict[str, Any]]) -> Path:
    schema = pa.schema(
        [("unique_id", pa.int64()), ("name", pa.string()), ("city", pa.string()), ("phones", pa.list_(pa.string()))]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def test_keys_shared_by_more_records_than_the_cap_are_emptied_and_counted(tmp_path: Path) -> None:
    rows = [{"unique_id": n, "name": "anna", "city": "berlin", "phones": [SWITCHBOARD, f"mobile{n}"]} for n in range(5)]
    rows += [{"unique_id": 5, "name": "otto", "city": "berlin", "phones": ["mobile0"]}]
    source = _prepared(tmp_path / "a.parquet", rows)
    rules: list[str | ListBlock] = ["l.name = r.name AND l.city = r.city", "l.city = r.city", ListBlock("phones")]
    capped = cap_blocking_keys(duckdb.connect(), [source], [tmp_path / "out.parquet"], rules, cap=4)
    assert capped.capped_keys == {rules[0]: 1, rules[1]: 1, "l.phones = r.phones": 1}
    assert capped.largest_block == {rules[0]: 5, rules[1]: 6, "l.phones = r.phones": 5}
    assert capped.rules == ("l.__block_0 = r.__block_0", "l.__block_1 = r.__block_1", ListBlock("__block_2"))
    out = {row["unique_id"]: row for row in pq.read_table(tmp_path / "out.parquet").to_pylist()}
    assert [out[n]["__block_0"] for n in range(6)][:5] == [None] * 5 and out[5]["__block_0"] is not None
    assert out[0]["__block_2"] == ["mobile0"] and out[5]["__block_2"] == ["mobile0"]
    assert out[0]["phones"] == [SWITCHBOARD, "mobile0"], "the compared values stay as they were"


def test_below_the_cap_rules_pair_the_same_records(tmp_path: Path) -> None:
    rows = [{"unique_id": n, "name": "anna", "city": "berlin", "phones": [SWITCHBOARD]} for n in range(3)]
    source = _prepared(tmp_path / "a.parquet", rows)
    rules: list[str | ListBlock] = ["l.name = r.city", ListBlock("phones")]
    capped = cap_blocking_keys(duckdb.connect(), [source], [tmp_path / "out.parquet"], rules, cap=10)
    assert capped.total_capped == 0
    assert capped.rules[1] == ListBlock("phones"), "an uncapped list rule keeps its column"
    assert capped.rules[0] == "l.__block_0_left = r.__block_0_right"


def colleagues_and_copies(seed: int, people: int) -> list[dict[str, Any]]:
    """Colleagues sharing a switchboard, some with a noisy copy (own mobile and e-mail)."""
    generator = random.Random(seed)
    firsts = ["Anna", "Thomas", "Maria", "Stefan", "Julia", "Peter", "Lena", "Jan"]
    lasts = ["Müller", "Schmidt", "Meier", "Fischer", "Weber", "Wagner", "Becker", "Koch"]
    records = []
    for person in range(people):
        first, last = generator.choice(firsts), generator.choice(lasts)
        mobile = f"0151 {2000000 + person}"
        email = f"{first.lower()}.{person}@muster.de"
        record = {"first_name": first, "last_name": last, "phone": SWITCHBOARD, "mobile": mobile, "email": email}
        records.append({"id": f"p{person}", **record, **OFFICE})
        if generator.random() < 0.4:
            copy = {**record, "last_name": last.replace("ü", "ue"), "phone": None, "email": email.upper()}
            records.append({"id": f"p{person}-copy", **copy, **OFFICE})
    return records


def verdicts(records: list[dict[str, Any]], backend: DuckDBBackend, stats: MatchStats | None = None) -> set[Any]:
    pairs = find_duplicates(records, spec=CONTACT_SPEC, backend=backend, stats=stats)
    return {(pair.a_id, pair.b_id, round(pair.score, 9), pair.verdict, pair.reasons) for pair in pairs}


def test_a_cap_above_every_block_changes_no_verdict() -> None:
    records = colleagues_and_copies(1, 40)
    assert verdicts(records, DuckDBBackend(threads=1, block_cap=None)) == verdicts(
        records, DuckDBBackend(threads=1, block_cap=1_000)
    )


def test_a_shared_switchboard_beyond_the_cap_pairs_nobody_but_copies_still_meet() -> None:
    records = colleagues_and_copies(2, 40)
    stats = MatchStats()
    capped = verdicts(records, DuckDBBackend(threads=1, block_cap=10), stats)
    assert stats.capped_keys["l.phone_numbers = r.phone_numbers"] == 1
    assert stats.largest_block["l.phone_numbers = r.phone_numbers"] == 40
    copies = {(f"p{n}", f"p{n}-copy") for n in range(40) if any(r["id"] == f"p{n}-copy" for r in records)}
    found = {(a, b) for a, b, _, verdict, _ in capped if verdict == "duplicate"}
    assert copies and copies <= found | {(b, a) for a, b in found}


def test_scoring_in_slices_gives_the_pairs_of_one_pass() -> None:
    records = colleagues_and_copies(3, 60)
    whole = verdicts(records, DuckDBBackend(threads=1))
    stats = MatchStats()
    sliced = verdicts(records, DuckDBBackend(threads=1, pairs_per_slice=100), stats)
    assert stats.score_chunks > 1
    assert sliced == whole


def test_linking_two_lists_caps_keys_over_both() -> None:
    people = [
        {"id": f"a{n}", "first_name": "Anna", "last_name": f"Muster{n}", "date_of_birth": "1980-01-01"}
        for n in range(6)
    ]
    others = [{**person, "id": person["id"].replace("a", "b")} for person in people]
    stats = MatchStats()
    backend = DuckDBBackend(block_cap=8, pairs_per_slice=10)
    pairs = find_duplicates(people, others, spec=PERSON_SPEC, backend=backend, stats=stats)
    assert stats.score_chunks > 1
    assert stats.capped_keys["l.date_of_birth = r.date_of_birth"] == 1
    assert {(pair.a_id, pair.b_id) for pair in pairs if pair.verdict == "duplicate"} == {
        (f"a{n}", f"b{n}") for n in range(6)
    }


def test_an_empty_value_in_many_lists_does_not_empty_the_others(tmp_path: Path) -> None:
    rows = [
        {"unique_id": n, "name": "anna", "city": "berlin", "phones": [None, SWITCHBOARD, f"m{n % 3}"]} for n in range(6)
    ]
    source = _prepared(tmp_path / "a.parquet", rows)
    capped = cap_blocking_keys(duckdb.connect(), [source], [tmp_path / "out.parquet"], [ListBlock("phones")], cap=4)
    assert capped.capped_keys == {"l.phones = r.phones": 1}
    out = {row["unique_id"]: row["__block_0"] for row in pq.read_table(tmp_path / "out.parquet").to_pylist()}
    assert out == {n: [f"m{n % 3}"] for n in range(6)}

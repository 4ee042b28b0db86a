"""The rules' drop conditions in SQL drop exactly what the Python rules drop."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest

from einklang.match import COMPANY_SPEC, CONTACT_SPEC, PERSON_SPEC, MatchSpec, Thresholds, find_duplicates
from einklang.match.spec import DropWhen, LevelDef, PairView
from einklang.match.sql_rules import drop_sql, fact_sql

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from data.german_contacts import generate


def test_a_fact_is_the_gamma_values_of_the_levels_that_carry_it() -> None:
    email = CONTACT_SPEC.comparison("email")
    sql = fact_sql("email:personal", CONTACT_SPEC)
    best = len(email.levels) - 1
    assert sql == f"(p.gamma_email IN ({best}))"
    assert fact_sql("no:such-fact", CONTACT_SPEC) == "(1 = 0)"


def test_drop_sql_reads_like_the_condition() -> None:
    drop = DropWhen(any_of=("phone:same",), none_of=("email:same",), unless_all_of=(("address:same", "company:same"),))
    sql = drop_sql(drop, CONTACT_SPEC)
    assert sql.count("NOT") == 2 and "gamma_phone" in sql and "gamma_company" in sql


@pytest.mark.parametrize("spec", [CONTACT_SPEC, PERSON_SPEC, COMPANY_SPEC], ids=lambda s: s.name)
def test_every_drop_condition_is_one_of_the_rules(spec: MatchSpec) -> None:
    # For every combination of one level per comparison (sampled), the SQL drop and the rules agree.
    import itertools
    import random

    rng = random.Random(3)
    choices: list[list[LevelDef | None]] = [[None, *comparison.levels] for comparison in spec.comparisons]
    combos = list(itertools.islice(itertools.product(*choices), 200_000))
    rng.shuffle(combos)
    for combo in combos[:3000]:
        levels = {comparison.name: level for comparison, level in zip(spec.comparisons, combo, strict=True)}
        view = PairView(left={}, right={}, levels=levels)
        for drop in spec.drops:
            if drop.holds(view):
                outcomes = [rule(view) for rule in spec.post_rules if _safe(rule, view)]
                assert any(outcome is not None and outcome.drop for outcome in outcomes)


def _safe(rule: Any, view: PairView) -> bool:
    try:
        rule(view)
    except (KeyError, TypeError, ValueError):
        return False
    return True


def test_dropping_in_sql_changes_no_result() -> None:
    records = [{k: v for k, v in r.items() if k != "entity"} for r in generate(1500, seed=5)]
    without_sql = dataclasses.replace(CONTACT_SPEC, drops=())
    low = Thresholds(possible=0.2)
    assert find_duplicates(records, spec=CONTACT_SPEC, thresholds=low) == find_duplicates(
        records, spec=without_sql, thresholds=low
    )

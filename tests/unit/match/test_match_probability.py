"""The match probability einklang computes from a weight is the one DuckDB's SQL gives.

Splink computes it in the engine with POWER, whose last bit differs between DuckDB and Spark
(Java); einklang computes it from the weight, which both engines give alike, so the two engines
print the same score (docs/scale.md). DuckDB's value must not change by that.
"""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from einklang.match.matcher import match_probability

SPLINK_SQL = """
SELECT CASE WHEN w >= 0 THEN 1.0 / (1.0 + POWER(cast(2 as float8), -(w)))
       ELSE POWER(cast(2 as float8), (w)) / (1.0 + POWER(cast(2 as float8), (w))) END
FROM (SELECT cast(? AS float8) AS w)
"""
CONNECTION = duckdb.connect()


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=-80.0, max_value=80.0, allow_nan=False))
def test_equals_duckdbs_splink_expression_to_the_last_bit(weight: float) -> None:
    row = CONNECTION.execute(SPLINK_SQL, [weight]).fetchone()
    assert row is not None
    assert match_probability(weight) == row[0]


def test_the_weights_met_at_a_million_records() -> None:
    # Spark printed 0.9756126352946364 for this weight, DuckDB 0.9756126352946362.
    assert repr(match_probability(5.322102668519386)) == "0.9756126352946362"
    assert match_probability(0.0) == 0.5
    assert match_probability(59.2) == 1.0
    assert 0.0 < match_probability(-60.0) < 1e-17

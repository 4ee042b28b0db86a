"""The post-rules' drop conditions as SQL on Splink's gamma columns, for any engine.

A fact (``first:differs``, ``phone:mobile`` ...) belongs to comparison levels; a scored pair
shows it when one of its comparisons landed on such a level, i.e. when that comparison's gamma
value is one of those levels' numbers. The SQL uses only ``IN``, ``AND``, ``OR`` and ``NOT`` on
integer columns, so DuckDB and Spark run it alike.
"""

from __future__ import annotations

from einklang.match.spec import DropWhen, MatchSpec


def gamma_column(comparison: str) -> str:
    return f"gamma_{comparison}"


def fact_sql(fact: str, spec: MatchSpec, table: str = "p") -> str:
    """True for the pairs that show ``fact``."""
    tests = []
    for comparison in spec.comparisons:
        count = len(comparison.levels)
        # Splink numbers the levels from the best (highest) down to ELSE (0); null is -1.
        gammas = [str(count - 1 - index) for index, level in enumerate(comparison.levels) if fact in level.facts]
        if gammas:
            tests.append(f"{table}.{gamma_column(comparison.name)} IN ({', '.join(gammas)})")
    return f"({' OR '.join(tests)})" if tests else "(1 = 0)"


def _any(facts: tuple[str, ...], spec: MatchSpec, table: str) -> str:
    return f"({' OR '.join(fact_sql(fact, spec, table) for fact in facts)})" if facts else "(1 = 0)"


def drop_sql(drop: DropWhen, spec: MatchSpec, table: str = "p") -> str:
    """True for the pairs ``drop`` drops (exactly :meth:`DropWhen.holds`)."""
    parts = [_any(drop.any_of, spec, table), f"NOT {_any(drop.none_of, spec, table)}"]
    for group in drop.unless_all_of:
        parts.append(f"NOT ({' AND '.join(fact_sql(fact, spec, table) for fact in group)})")
    return " AND ".join(parts)

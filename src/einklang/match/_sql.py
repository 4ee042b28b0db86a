"""Small builders for the SQL conditions of comparison levels.

Conditions are written once in DuckDB's dialect; Splink transpiles them (via sqlglot) when the
backend speaks another dialect, which keeps the specs readable as plain SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from einklang.match.spec import LevelSql

if TYPE_CHECKING:
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

SOURCE_DIALECT = "duckdb"
SIMILARITY_MARGIN = 1e-9
"""How far below its threshold a similarity may come out and still pass. DuckDB and Spark (see
:mod:`einklang.match._spark_udfs`) compute Jaro-Winkler with the same algorithm but may differ in
the last bits, and a pair whose exact similarity is the threshold (0.9 for a 5- and a 6-letter
name, e.g.) would then pass on one engine and fail on the other. Two different similarities of
names (a few dozen letters) differ by far more than 1e-9, so the margin lets no other pair pass."""


def level(sql: str) -> LevelSql:
    def build() -> ComparisonLevelCreator:
        import splink.comparison_level_library as cll

        return cll.CustomLevel(sql, base_dialect_str=SOURCE_DIALECT)

    return build


def both(column: str) -> str:
    return f'("{column}_l" IS NOT NULL AND "{column}_r" IS NOT NULL)'


def either_null(column: str) -> str:
    return f'("{column}_l" IS NULL OR "{column}_r" IS NULL)'


def same(column: str) -> str:
    return f'"{column}_l" = "{column}_r"'


def edits_within(column: str, edits: int) -> str:
    return f'damerau_levenshtein("{column}_l", "{column}_r") <= {edits}'


def similarity_at_least(threshold: float) -> str:
    """``>= threshold``, robust to the engines' last bits (:data:`SIMILARITY_MARGIN`)."""
    return f">= {round(threshold - SIMILARITY_MARGIN, 12)!r}"


def jaro_winkler_at_least(column: str, threshold: float, right: str | None = None) -> str:
    """Jaro-Winkler of ``column`` on both sides (or ``column`` left, ``right`` right) at least ``threshold``."""
    other = right or column
    return f'jaro_winkler_similarity("{column}_l", "{other}_r") {similarity_at_least(threshold)}'


def one_extends_other(column: str) -> str:
    """Jan/Jana, Daniel/Daniela, Christian/Christiane: a name plus an ending is another name."""
    left, right = f'"{column}_l"', f'"{column}_r"'
    return f"(substr({left}, 1, length({right})) = {right} OR substr({right}, 1, length({left})) = {left})"


def differ_in_last_letter_only(column: str) -> str:
    """Maria/Mario, Anna/Anne, Paula/Paulo: a different final letter makes a different given name."""
    left, right = f'"{column}_l"', f'"{column}_r"'
    return (
        f"(length({left}) = length({right}) AND length({left}) <= 6 "
        f"AND substr({left}, 1, length({left}) - 1) = substr({right}, 1, length({right}) - 1))"
    )

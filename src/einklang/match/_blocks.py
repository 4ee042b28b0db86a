"""Capped blocking keys: a key that too many records share pairs nobody.

A blocking rule pairs every two records with the same key, so a block's pairs grow with the
square of its size. A key shared by thousands of records (a company's switchboard number, an
``info@`` mailbox, a common name in a big city) says nothing about who is whose duplicate, and
at a million records such blocks alone make tens of millions of pairs. Before matching, each
rule that is a conjunction of equalities (``l.a = r.a AND substr(l.b, 1, 2) = substr(r.b, 1, 2)``)
gets its key as a column of the prepared records, empty where more than ``cap`` records share
it, and becomes an equality on that column; a list rule (any shared e-mail, any shared number)
gets a list of the values held by at most ``cap`` records. The records of a capped key still
meet through their other keys (their own e-mail, mobile number, street).

Below the cap nothing changes: the new rule pairs exactly the records the old one paired (keys
are 64-bit hashes; two keys sharing a hash, about one chance in 10^7 at a million keys, only
add a pair to be scored). Rules of another shape (``<``, ``OR``, functions of both sides) run
unchanged. The work runs in DuckDB on the prepared Parquet files, whichever engine matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from einklang.match.spec import ListBlock

DEFAULT_CAP = 1_000
"""Records that may share a blocking key: a block of 1,000 is 500,000 pairs."""

_SIDE = re.compile(r"\b([lr])\.")
_EQUALS = re.compile(r"(?<![<>!=])=(?!=)")
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


@dataclass(frozen=True)
class RuleKey:
    """A conjunction of equalities as one key expression per side (SQL on one record)."""

    left: str
    right: str

    @property
    def symmetric(self) -> bool:
        return self.left == self.right


def rule_key(rule: str) -> RuleKey | None:
    """The rule's key on either side, or None when the rule is not a conjunction of equalities."""
    lefts: list[str] = []
    rights: list[str] = []
    for part in _AND.split(rule.strip()):
        if part.count("(") != part.count(")") or re.search(r"\bOR\b", part, re.IGNORECASE):
            return None
        sides = _EQUALS.split(part)
        if len(sides) != 2:
            return None
        first, second = (side.strip() for side in sides)
        first_sides, second_sides = set(_SIDE.findall(first)), set(_SIDE.findall(second))
        if first_sides == {"r"} and second_sides == {"l"}:
            first, second = second, first
        elif not (first_sides == {"l"} and second_sides == {"r"}):
            return None
        lefts.append(_SIDE.sub("", first))
        rights.append(_SIDE.sub("", second))
    return RuleKey(_hashed_key(lefts), _hashed_key(rights))


def _hashed_key(expressions: Sequence[str]) -> str:
    # NULL when any part is NULL, as the equalities it replaces are then not true.
    text = " || chr(31) || ".join(f"CAST(({expression}) AS VARCHAR)" for expression in expressions)
    return f"CASE WHEN ({text}) IS NULL THEN NULL ELSE CAST(hash({text}) >> 1 AS BIGINT) END"


@dataclass
class CappedBlocking:
    """The rules to block with, and what the cap left out."""

    rules: tuple[str | ListBlock, ...]
    capped_keys: dict[str, int]
    """Per original rule (its SQL), how many keys more than ``cap`` records shared."""
    largest_block: dict[str, int]
    """Per original rule, records sharing its most common key (before the cap)."""
    pairs_bound: int = 0
    """At most this many candidate pairs (the blocks' pairs summed over the rules; rules overlap)."""

    @property
    def total_capped(self) -> int:
        return sum(self.capped_keys.values())


def sql_text(path: Path) -> str:
    """A path as an SQL string literal (COPY and read_parquet take no parameters in every position)."""
    return "'" + str(path).replace("'", "''") + "'"


def _column(index: int, side: str = "") -> str:
    return f"__block_{index}{side}"


def cap_blocking_keys(
    connection: Any, files: Sequence[Path], outputs: Sequence[Path], rules: Sequence[str | ListBlock], cap: int
) -> CappedBlocking:
    """Write each prepared file in ``files`` to ``outputs`` with capped key columns added.

    ``connection`` is a DuckDB connection (memory limit and spill folder are the caller's). Keys
    are counted over all files together: across two lists a block holds both lists' records.
    """
    sources = "[" + ", ".join(sql_text(path) for path in files) + "]"
    connection.execute(f"CREATE OR REPLACE TEMP VIEW __all_records AS SELECT * FROM read_parquet({sources})")
    new_rules: list[str | ListBlock] = []
    key_columns: list[str] = []
    list_columns: list[tuple[str, str]] = []
    capped: dict[str, int] = {}
    largest: dict[str, int] = {}
    pairs: list[int] = []
    for index, rule in enumerate(rules):
        name = rule.sql if isinstance(rule, ListBlock) else rule
        if isinstance(rule, ListBlock):
            # No NULL among the big values: ``v NOT IN (..., NULL)`` would drop every value.
            values = f"SELECT unnest({rule.column}) AS v FROM __all_records"
            counts = f"SELECT v, count(*) AS n FROM ({values}) WHERE v IS NOT NULL GROUP BY v"
            big = _big_keys(connection, index, counts, cap, capped, largest, pairs, name)
            if big:
                list_columns.append((rule.column, _column(index)))
                new_rules.append(ListBlock(_column(index)))
            else:
                new_rules.append(rule)
            continue
        key = rule_key(rule)
        if key is None:
            new_rules.append(rule)
            continue
        keys = f"SELECT {key.left} AS v FROM __all_records"
        if not key.symmetric:
            keys += f" UNION ALL SELECT {key.right} AS v FROM __all_records"
        counts = f"SELECT v, count(*) AS n FROM ({keys}) WHERE v IS NOT NULL GROUP BY v"
        big = _big_keys(connection, index, counts, cap, capped, largest, pairs, name)
        sides = [("", key.left)] if key.symmetric else [("_left", key.left), ("_right", key.right)]
        for side, expression in sides:
            column = _column(index, side)
            if big:
                expression = (
                    f"CASE WHEN ({expression}) IN (SELECT v FROM __big_{index}) THEN NULL ELSE ({expression}) END"
                )
            key_columns.append(f"({expression}) AS {column}")
        left, right = (
            (_column(index), _column(index)) if key.symmetric else (_column(index, "_left"), _column(index, "_right"))
        )
        new_rules.append(f"l.{left} = r.{right}")
    for source, output in zip(files, outputs, strict=True):
        _write(connection, source, output, key_columns, list_columns)
    for index in range(len(rules)):
        connection.execute(f"DROP TABLE IF EXISTS __big_{index}")
    connection.execute("DROP VIEW __all_records")
    return CappedBlocking(tuple(new_rules), capped, largest, sum(pairs))


def _big_keys(
    connection: Any,
    index: int,
    counts: str,
    cap: int,
    capped: dict[str, int],
    largest: dict[str, int],
    pairs: list[int],
    name: str,
) -> int:
    connection.execute(f"CREATE OR REPLACE TEMP TABLE __counts AS {counts}")
    connection.execute(f"CREATE OR REPLACE TEMP TABLE __big_{index} AS SELECT v FROM __counts WHERE n > {int(cap)}")
    row = connection.execute(
        f"SELECT count(*) FILTER (WHERE n > {int(cap)}), coalesce(max(n), 0), "
        f"coalesce(sum(n * (n - 1) // 2) FILTER (WHERE n <= {int(cap)}), 0) FROM __counts"
    ).fetchone()
    pairs.append(int(row[2]))
    connection.execute("DROP TABLE __counts")
    capped[name], largest[name] = int(row[0]), int(row[1])
    return capped[name]


def _write(
    connection: Any, source: Path, output: Path, key_columns: list[str], list_columns: list[tuple[str, str]]
) -> None:
    selected = ["t.*", *key_columns]
    joins = []
    for number, (column, capped_column) in enumerate(list_columns):
        index = capped_column.removeprefix("__block_")
        alias = f"k{number}"
        # The values of the list that at most ``cap`` records hold (their order means nothing to blocking).
        joins.append(
            f"LEFT JOIN (SELECT unique_id, list(v) AS kept_values FROM (SELECT unique_id, unnest({column}) AS v "
            f"FROM read_parquet({sql_text(source)})) WHERE v NOT IN (SELECT v FROM __big_{index}) GROUP BY unique_id) "
            f"{alias} ON {alias}.unique_id = t.unique_id"
        )
        selected.append(f"{alias}.kept_values AS {capped_column}")
    connection.execute(
        f"COPY (SELECT {', '.join(selected)} FROM read_parquet({sql_text(source)}) t {' '.join(joins)}) "
        f"TO {sql_text(output)} (FORMAT parquet)"
    )

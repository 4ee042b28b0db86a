"""What a record type contributes to matching: comparison columns, comparisons, blocking, rules.

A :class:`MatchSpec` is plain data plus a few pure functions, so specs for new record types can
be written without touching the engine. The Splink comparison levels are built from the spec
for whichever SQL dialect the backend speaks, with m/u probabilities taken from a model, which
is why levels carry default probabilities here instead of living in a fixed Splink JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

PreparedRow = Mapping[str, Any]
"""One record's prepared columns (raw display values and derived comparison columns)."""

LevelSql = Callable[[], "ComparisonLevelCreator"]


@dataclass(frozen=True)
class LevelDef:
    """One agreement level of a comparison, best first.

    ``key`` names the level stably; trained models are stored by it. ``facts`` are short tags
    (e.g. ``first:initial``) read by post-rules and explanations, so neither has to re-derive
    from SQL what the level already established.
    """

    key: str
    label: str
    condition: LevelSql | None
    m: float
    u: float
    facts: frozenset[str] = frozenset()


Explain = Callable[[LevelDef, PreparedRow, PreparedRow], list[str]]


@dataclass(frozen=True)
class ComparisonDef:
    """A Splink comparison: a null test, ordered levels, and how to explain each level in words."""

    name: str
    null_when: str
    levels: tuple[LevelDef, ...]
    explain: Explain
    description: str = ""

    def level_for_gamma(self, gamma: int) -> LevelDef | None:
        """Splink numbers non-null levels from the best (highest) down to ELSE (0); null is -1."""
        if gamma < 0:
            return None
        return self.levels[len(self.levels) - 1 - gamma]


@dataclass(frozen=True)
class PairView:
    """What post-rules see of one scored pair."""

    left: PreparedRow
    right: PreparedRow
    levels: Mapping[str, LevelDef | None]

    def has(self, fact: str) -> bool:
        return any(level is not None and fact in level.facts for level in self.levels.values())

    def has_any(self, facts: tuple[str, ...]) -> bool:
        return any(self.has(fact) for fact in facts)


@dataclass(frozen=True)
class DropWhen:
    """When a post-rule drops a pair, as a condition on facts alone (no record values).

    Written as data so that the engine can apply it in SQL before pairs leave the database
    (most scored pairs in a big list are colleagues this drops), and the Python rule applies the
    very same condition to decide the reason, so both always agree.
    """

    any_of: tuple[str, ...]
    """The pair shows at least one of these facts..."""
    none_of: tuple[str, ...] = ()
    """...and none of these..."""
    unless_all_of: tuple[tuple[str, ...], ...] = ()
    """...and no group of facts here holds completely (e.g. same date of birth and similar ID)."""

    def conflict(self, pair: PairView) -> bool:
        """The condition without ``none_of``: rules cap such pairs instead of dropping them."""
        if not pair.has_any(self.any_of):
            return False
        return not any(all(pair.has(fact) for fact in group) for group in self.unless_all_of)

    def holds(self, pair: PairView) -> bool:
        return self.conflict(pair) and not pair.has_any(self.none_of)


@dataclass(frozen=True)
class RuleOutcome:
    """A post-rule's decision: drop the pair, or cap its verdict at ``possible``; always with a reason."""

    reason: str
    drop: bool = False
    cap_at_possible: bool = False
    ambiguity: tuple[str, str] | None = None
    """For a cap that holds only if ambiguous: (side of the record in doubt, "left"/"right", and
    the value it was matched to). The cap is lifted when that record matched just one value."""


PostRule = Callable[[PairView], RuleOutcome | None]


@dataclass(frozen=True)
class ListBlock:
    """A blocking rule on a list column: two records meet when their lists share a value.

    Splink explodes the list (one row per value) before the join, in either engine.
    """

    column: str

    @property
    def sql(self) -> str:
        return f"l.{self.column} = r.{self.column}"


@dataclass(frozen=True)
class MatchSpec:
    """Everything the matcher needs to know about one record type."""

    name: str
    fields: tuple[str, ...]
    prepare_record: Callable[[Mapping[str, Any], str], dict[str, Any]]
    """Canonical record and default phone region -> prepared columns (display and comparison)."""
    comparisons: tuple[ComparisonDef, ...]
    blocking_rules: tuple[str | ListBlock, ...]
    """SQL conditions on ``l.`` and ``r.`` columns; a pair is scored if any rule holds."""
    training_blocking_rules: tuple[str, ...]
    """Rules for EM: each must leave some comparisons free to be estimated."""
    deterministic_rules: tuple[str, ...]
    """Near-certain matches, used to estimate how often two random records match."""
    post_rules: tuple[PostRule, ...] = ()
    drops: tuple[DropWhen, ...] = ()
    """The post-rules' drop conditions, applied in SQL first (each must be exactly a rule's)."""
    ambiguity_sql: str | None = None
    """SQL on ``l.``/``r.`` prepared columns selecting the pairs whose rules may report an ambiguity
    (see :class:`RuleOutcome`); the matcher reads those first. None: the spec has no such rule."""
    probability_two_random_records_match: float = 1e-4
    prepared_columns: tuple[str, ...] = field(default=())
    """Columns prepare_record produces (fixed so empty inputs still give a well-formed frame)."""
    list_columns: tuple[str, ...] = field(default=())
    """Prepared columns holding a list of strings (all e-mails, all numbers); the others are text."""
    bool_columns: tuple[str, ...] = field(default=())
    """Prepared columns holding true/false."""

    def comparison(self, name: str) -> ComparisonDef:
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(f"spec {self.name!r} has no comparison {name!r}")

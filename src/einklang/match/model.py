"""Match models: the m/u probabilities of every comparison level, with JSON persistence.

A model is stored by spec, comparison and level *key* rather than as a full Splink settings
file, so it stays readable, survives changes to a level's SQL, and can be turned into Splink
settings for whichever SQL dialect the backend speaks. ``default_model`` needs no data;
:mod:`einklang.match.training` estimates a model from the user's records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from einklang.match._sql import SOURCE_DIALECT
from einklang.match.spec import ComparisonDef, ListBlock, MatchSpec

if TYPE_CHECKING:  # Splink (and pandas, DuckDB behind it) load only when a model is used
    import splink.comparison_library as cl
    from splink import SettingsCreator
    from splink.internals.blocking_rule_creator import BlockingRuleCreator
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

MODEL_FORMAT = "einklang-match-model/1"
LinkType = Literal["dedupe_only", "link_only"]


@dataclass(frozen=True)
class LevelParameters:
    m: float
    u: float


@dataclass(frozen=True)
class MatchModel:
    spec: str
    probability_two_random_records_match: float
    levels: Mapping[str, Mapping[str, LevelParameters]]
    """comparison name -> level key -> parameters."""
    origin: str = "default"
    notes: tuple[str, ...] = field(default=())

    def parameters(self, comparison: str, level_key: str) -> LevelParameters | None:
        return self.levels.get(comparison, {}).get(level_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "spec": self.spec,
            "origin": self.origin,
            "probability_two_random_records_match": self.probability_two_random_records_match,
            "comparisons": {
                comparison: {key: {"m": p.m, "u": p.u} for key, p in levels.items()}
                for comparison, levels in self.levels.items()
            },
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatchModel:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"not an einklang match model (format {data.get('format')!r})")
        return cls(
            spec=str(data["spec"]),
            probability_two_random_records_match=float(data["probability_two_random_records_match"]),
            levels={
                comparison: {key: LevelParameters(float(p["m"]), float(p["u"])) for key, p in levels.items()}
                for comparison, levels in data["comparisons"].items()
            },
            origin=str(data.get("origin", "file")),
            notes=tuple(data.get("notes", ())),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> MatchModel:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def default_model(spec: MatchSpec) -> MatchModel:
    """The shipped model: hand-set m/u for German master data, good enough without training."""
    return MatchModel(
        spec=spec.name,
        probability_two_random_records_match=spec.probability_two_random_records_match,
        levels={
            comparison.name: {level.key: LevelParameters(level.m, level.u) for level in comparison.levels}
            for comparison in spec.comparisons
        },
    )


def _splink_comparison(comparison: ComparisonDef, model: MatchModel) -> cl.CustomComparison:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels: list[ComparisonLevelCreator | dict[str, Any]] = [
        cll.CustomLevel(comparison.null_when, base_dialect_str=SOURCE_DIALECT).configure(
            is_null_level=True, label_for_charts="missing on either side"
        )
    ]
    for level in comparison.levels:
        parameters = model.parameters(comparison.name, level.key) or LevelParameters(level.m, level.u)
        creator = cll.ElseLevel() if level.condition is None else level.condition()
        configured = creator.configure(
            label_for_charts=level.label, m_probability=parameters.m, u_probability=parameters.u
        )
        levels.append(configured)
    return cl.CustomComparison(
        comparison_levels=levels,
        output_column_name=comparison.name,
        comparison_description=comparison.description or comparison.name,
    )


def blocking_rule(rule: str | ListBlock) -> BlockingRuleCreator:
    """A blocking rule written in the specs' SQL dialect."""
    from splink.blocking_rule_library import CustomRule

    if isinstance(rule, ListBlock):
        return CustomRule(rule.sql, sql_dialect=SOURCE_DIALECT, arrays_to_explode=[rule.column])
    return CustomRule(rule, sql_dialect=SOURCE_DIALECT)


def _blocking_rules(rules: Iterable[str | ListBlock]) -> list[BlockingRuleCreator | dict[str, Any]]:
    return [blocking_rule(rule) for rule in rules]


def splink_settings(spec: MatchSpec, model: MatchModel, link_type: LinkType) -> SettingsCreator:
    if model.spec != spec.name:
        raise ValueError(f"model is for spec {model.spec!r}, not {spec.name!r}")
    from splink import SettingsCreator

    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        probability_two_random_records_match=model.probability_two_random_records_match,
        comparisons=[_splink_comparison(comparison, model) for comparison in spec.comparisons],
        blocking_rules_to_generate_predictions=_blocking_rules(spec.blocking_rules),
        # Splink keeps the gamma (level) columns, which the rules read, only with the matching
        # columns; the matcher joins the pairs back to the prepared records for everything else.
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=[],
    )

"""Match models: the m/u probabilities of every comparison level, with JSON persistence.

A model is stored by spec, comparison and level *key* rather than as a full Splink settings
file, so it stays readable, survives changes to a level's SQL, and can be turned into Splink
settings for whichever SQL dialect the backend speaks. ``default_model`` needs no data;
``train`` estimates u by random sampling and m by expectation maximisation on the user's records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator
from splink.blocking_rule_library import CustomRule
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator

from einklang.match._sql import SOURCE_DIALECT
from einklang.match.backend import Backend, default_backend
from einklang.match.spec import ComparisonDef, MatchSpec

MODEL_FORMAT = "einklang-match-model/1"
LinkType = Literal["dedupe_only", "link_only"]

_log = logging.getLogger(__name__)


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


def _blocking_rule(rule: str) -> BlockingRuleCreator:
    return CustomRule(rule, sql_dialect=SOURCE_DIALECT)


def _blocking_rules(rules: Iterable[str]) -> list[BlockingRuleCreator | dict[str, Any]]:
    return [_blocking_rule(rule) for rule in rules]


def splink_settings(spec: MatchSpec, model: MatchModel, link_type: LinkType) -> SettingsCreator:
    if model.spec != spec.name:
        raise ValueError(f"model is for spec {model.spec!r}, not {spec.name!r}")
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        probability_two_random_records_match=model.probability_two_random_records_match,
        comparisons=[_splink_comparison(comparison, model) for comparison in spec.comparisons],
        blocking_rules_to_generate_predictions=_blocking_rules(spec.blocking_rules),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
    )


def model_from_splink(spec: MatchSpec, settings: Mapping[str, Any], origin: str, base: MatchModel) -> MatchModel:
    """Read trained m/u back by level position; levels Splink could not estimate keep their base value."""
    notes: list[str] = []
    by_name = {comparison["output_column_name"]: comparison for comparison in settings["comparisons"]}
    levels: dict[str, dict[str, LevelParameters]] = {}
    for comparison in spec.comparisons:
        trained_levels = [
            level for level in by_name[comparison.name]["comparison_levels"] if not level.get("is_null_level")
        ]
        levels[comparison.name] = {}
        for level, trained in zip(comparison.levels, trained_levels, strict=True):
            fallback = base.parameters(comparison.name, level.key) or LevelParameters(level.m, level.u)
            m, u = trained.get("m_probability"), trained.get("u_probability")
            if m is None or u is None or not (0 < m <= 1) or not (0 < u <= 1):
                notes.append(f"{comparison.name}.{level.key}: not estimable from this data, kept default")
            levels[comparison.name][level.key] = LevelParameters(
                m=float(m) if m is not None and 0 < m <= 1 else fallback.m,
                u=float(u) if u is not None and 0 < u <= 1 else fallback.u,
            )
    return MatchModel(
        spec=spec.name,
        probability_two_random_records_match=float(settings["probability_two_random_records_match"]),
        levels=levels,
        origin=origin,
        notes=tuple(notes),
    )


def train(
    records: Iterable[Mapping[str, Any]],
    spec: MatchSpec,
    *,
    backend: Backend | None = None,
    default_region: str = "DE",
    id_field: str = "id",
    max_pairs: float = 1e6,
    seed: int = 42,
    deterministic_recall: float = 0.7,
) -> MatchModel:
    """Estimate a model from the user's own records (u by random sampling, m by EM).

    Starts from the default model so that levels a small list cannot inform keep sensible values.
    """
    from einklang.match.matcher import prepare, splink_input

    prepared = prepare(records, spec, default_region=default_region, id_field=id_field)
    if len(prepared) < 2:
        raise ValueError("training needs at least two records")
    base = default_model(spec)
    db_api = (backend or default_backend()).database_api()
    table = db_api.register(splink_input(prepared, spec))
    linker = Linker(table, splink_settings(spec, base, "dedupe_only"), log_level=None)
    try:
        linker.training.estimate_probability_two_random_records_match(
            [_blocking_rule(rule) for rule in spec.deterministic_rules], recall=deterministic_recall
        )
    except Exception as error:  # too few sure pairs in a small list: keep the default prior
        _log.info("could not estimate the match prior (%s); keeping the default", error)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    snapshot = linker.misc.save_model_to_json()
    for rule in spec.training_blocking_rules:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                _blocking_rule(rule),
                estimate_without_term_frequencies=True,
            )
            snapshot = linker.misc.save_model_to_json()
        except Exception as error:
            # A rule that informs nothing in this data (or an EM that degenerates) leaves Splink's
            # settings half-updated; continue from the last good state instead.
            _log.info("EM with %s skipped: %s", rule, error)
            linker = Linker(table, snapshot, log_level=None)
    trained = snapshot
    return model_from_splink(spec, trained, origin="trained", base=base)

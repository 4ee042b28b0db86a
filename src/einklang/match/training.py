"""Training a match model from the user's own records: u by random sampling, m by EM (Splink).

Lives apart from :mod:`einklang.match.model` (the model and its Splink settings) and
:mod:`einklang.match.matcher` (scoring) because it needs both: the matcher prepares the records,
the model turns into Splink settings and back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from splink import Linker

from einklang.match.backend import Backend, default_backend
from einklang.match.matcher import prepare, splink_input
from einklang.match.model import LevelParameters, MatchModel, blocking_rule, default_model, splink_settings
from einklang.match.spec import MatchSpec

_log = logging.getLogger(__name__)


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
    prepared = prepare(records, spec, default_region=default_region, id_field=id_field)
    if len(prepared) < 2:
        raise ValueError("training needs at least two records")
    base = default_model(spec)
    db_api = (backend or default_backend()).database_api()
    table = db_api.register(splink_input(prepared, spec))
    linker = Linker(table, splink_settings(spec, base, "dedupe_only"), log_level=None)
    try:
        linker.training.estimate_probability_two_random_records_match(
            [blocking_rule(rule) for rule in spec.deterministic_rules], recall=deterministic_recall
        )
    except Exception as error:  # too few sure pairs in a small list: keep the default prior
        _log.info("could not estimate the match prior (%s); keeping the default", error)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    snapshot = linker.misc.save_model_to_json()
    for rule in spec.training_blocking_rules:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                blocking_rule(rule),
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

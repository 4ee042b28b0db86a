"""Duplicate detection for master data: blocking and probabilistic scoring on Splink.

Typical use::

    from einklang.match import CONTACT_SPEC, find_duplicates

    pairs = find_duplicates(contacts, spec=CONTACT_SPEC)
    for pair in pairs:
        print(pair.a_id, pair.b_id, pair.verdict, round(pair.score, 3), "; ".join(pair.reasons))

A default model ships for every spec, so small lists need no training; ``train`` estimates a
model from a user's own data, and ``MatchModel.save``/``load`` keep it as JSON.

The specs and the model load without Splink; the names that need Splink, pandas and DuckDB
(the matcher and training) are imported on first use, so that importing this package (the
command line does, for every command) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from einklang.match.backend import Backend, DuckDBBackend, SparkBackend, spark_session
from einklang.match.company import COMPANY_SPEC
from einklang.match.contact import CONTACT_SPEC
from einklang.match.model import MatchModel, default_model
from einklang.match.person import PERSON_SPEC
from einklang.match.spec import MatchSpec

if TYPE_CHECKING:
    from einklang.match.matcher import (
        CandidatePair,
        MatchStats,
        Thresholds,
        Verdict,
        find_duplicates,
        iter_duplicates,
        prepare,
    )
    from einklang.match.training import train

SPECS: dict[str, MatchSpec] = {spec.name: spec for spec in (CONTACT_SPEC, COMPANY_SPEC, PERSON_SPEC)}

_LAZY = {
    "CandidatePair": "einklang.match.matcher",
    "Thresholds": "einklang.match.matcher",
    "Verdict": "einklang.match.matcher",
    "find_duplicates": "einklang.match.matcher",
    "iter_duplicates": "einklang.match.matcher",
    "MatchStats": "einklang.match.matcher",
    "prepare": "einklang.match.matcher",
    "train": "einklang.match.training",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "COMPANY_SPEC",
    "CONTACT_SPEC",
    "PERSON_SPEC",
    "SPECS",
    "Backend",
    "CandidatePair",
    "DuckDBBackend",
    "MatchModel",
    "MatchSpec",
    "MatchStats",
    "SparkBackend",
    "Thresholds",
    "Verdict",
    "default_model",
    "find_duplicates",
    "iter_duplicates",
    "prepare",
    "spark_session",
    "train",
]

"""Duplicate detection for master data: blocking and probabilistic scoring on Splink.

Typical use::

    from einklang.match import CONTACT_SPEC, find_duplicates

    pairs = find_duplicates(contacts, spec=CONTACT_SPEC)
    for pair in pairs:
        print(pair.a_id, pair.b_id, pair.verdict, round(pair.score, 3), "; ".join(pair.reasons))

A default model ships for every spec, so small lists need no training; ``train`` estimates a
model from a user's own data, and ``MatchModel.save``/``load`` keep it as JSON.
"""

from einklang.match.backend import Backend, DuckDBBackend, SparkBackend
from einklang.match.company import COMPANY_SPEC
from einklang.match.contact import CONTACT_SPEC
from einklang.match.matcher import CandidatePair, Thresholds, Verdict, find_duplicates, prepare
from einklang.match.model import MatchModel, default_model, train
from einklang.match.person import PERSON_SPEC
from einklang.match.spec import MatchSpec

SPECS: dict[str, MatchSpec] = {spec.name: spec for spec in (CONTACT_SPEC, COMPANY_SPEC, PERSON_SPEC)}

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
    "SparkBackend",
    "Thresholds",
    "Verdict",
    "default_model",
    "find_duplicates",
    "prepare",
    "train",
]

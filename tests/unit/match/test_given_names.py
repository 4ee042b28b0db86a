"""Given names tell a typing error from another person's name (issue 13, matcher quality)."""

from __future__ import annotations

from typing import Any

import pytest

from einklang.match import CONTACT_SPEC, Thresholds, find_duplicates
from einklang.match.given_names import GIVEN_NAMES, given_name_key

MUSTER = {"company": "Muster GmbH", "street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin"}
EVERYTHING = Thresholds(duplicate=0.99, possible=0.0)


def contact(id_: str, first: str | None, last: str | None, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "first_name": first, "last_name": last, **fields}


def only_pair(records: list[dict[str, Any]]) -> Any:
    pairs = find_duplicates(records, spec=CONTACT_SPEC, thresholds=EVERYTHING)
    return pairs[0] if pairs else None


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("lena", "lena"),
        ("lea", "lea"),
        ("pihlipp", "philipp"),  # two letters swapped
        ("danieela", "daniela"),  # a letter doubled
        ("christiian", "christian"),
        ("jula", "julia"),  # a letter left out
        ("elle", None),  # Elke or Ella: left open
        ("jaa", None),  # too short to be read as a typo
        ("hans peter", None),  # a double name
        ("t", None),  # an initial
        (None, None),
    ],
)
def test_given_name_key(spelling: str | None, key: str | None) -> None:
    assert given_name_key(spelling) == key


def test_the_list_is_folded_as_the_matcher_folds_names() -> None:
    assert {"jurgen", "bjorn", "soren", "kathe"} <= GIVEN_NAMES
    assert all(name == name.lower() and name.isalpha() for name in GIVEN_NAMES)


def test_two_given_names_a_letter_apart_at_one_company_are_not_a_sure_duplicate() -> None:
    # Lena and Lea share the address, the switchboard and the surname mailbox: colleagues or a typo.
    shared = {"phone": "030 1234567", "email": "krause@muster.de", **MUSTER}
    pair = only_pair([contact("lena", "Lena", "Krause", **shared), contact("lea", "Lea", "Krause", **shared)])
    assert pair is not None and pair.verdict == "possible"


def test_two_names_further_apart_are_two_people() -> None:
    shared = {"phone": "030 1234567", "email": "otto@muster.de", **MUSTER}
    assert only_pair([contact("m", "Maria", "Otto", **shared), contact("t", "Martina", "Otto", **shared)]) is None


def test_a_misspelt_given_name_is_the_same_name() -> None:
    pair = only_pair(
        [
            contact("a", "Philipp", "Schuster", street="Königsallee 122", postal_code="47627", city="Duisburg"),
            contact("b", "Pihlipp", "Schuster", city="Duisburg"),
        ]
    )
    assert pair is not None and pair.score >= 0.5
    assert "first_name: one given name, Philipp (Philipp ~ Pihlipp)" in pair.reasons


def test_two_misspellings_neither_a_name_are_compared_as_spellings() -> None:
    # "Jaa" and "Jaan": one extends the other, but neither is a name (Jan and Jana are).
    pair = only_pair(
        [
            contact("a", "Jaa", "Schmitz", phone="02151 1469656", **MUSTER),
            contact("b", "Jaan", "Schmitz", email="schmitz@muster.de", **MUSTER),
        ]
    )
    assert pair is not None and pair.score >= 0.5
    relatives = only_pair(
        [contact("a", "Jan", "Schmitz", phone="030 1234567", **MUSTER), contact("b", "Jana", "Schmitz", **MUSTER)]
    )
    assert relatives is None


def test_a_known_name_plus_an_ending_goes_to_review_even_with_a_shared_address() -> None:
    # Thomass may be a typo of Thomas; endings are where names differ (Paul/Paula): a person looks.
    shared = {"email": "thomas.mueller@muster.de", **MUSTER}
    pair = only_pair([contact("a", "Thomas", "Müller", **shared), contact("b", "Thomass", "Müller", **shared)])
    assert pair is not None and pair.verdict == "possible"

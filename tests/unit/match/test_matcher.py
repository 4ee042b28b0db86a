"""Domain rules of the matcher, on small hand-made lists (default model, no training)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from einklang.match import (
    COMPANY_SPEC,
    CONTACT_SPEC,
    PERSON_SPEC,
    CandidatePair,
    MatchModel,
    Thresholds,
    default_model,
    find_duplicates,
    prepare,
)
from einklang.match.phonetic import cologne_phonetic

MUSTER = {"company": "Muster GmbH", "street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin"}


def contact(id_: str, first: str | None, last: str | None, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "first_name": first, "last_name": last, **fields}


def pair_of(pairs: Iterable[CandidatePair], a: str, b: str) -> CandidatePair | None:
    for pair in pairs:
        if {pair.a_id, pair.b_id} == {a, b}:
            return pair
    return None


def test_colleagues_with_one_surname_at_one_address_are_not_duplicates() -> None:
    records = [
        contact("anna", "Anna", "Müller", phone="030 1234567", email="mueller@muster.de", **MUSTER),
        contact("thomas", "Thomas", "Müller", phone="+49 30 1234567", email="mueller@muster.de", **MUSTER),
    ]
    assert find_duplicates(records, spec=CONTACT_SPEC, thresholds=Thresholds(possible=0.0)) == []


def test_shared_surname_mailbox_is_a_duplicate_when_the_rest_agrees() -> None:
    records = [
        contact("a", "Thomas", "Müller", phone="030 1234567", email="mueller@muster.de", **MUSTER),
        contact("b", "Thomas", "Mueller", phone="030/1234567", email="MUELLER@muster.de", **MUSTER),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate"
    assert "email: same shared mailbox (mueller@muster.de)" in pair.reasons


def test_initial_is_compatible_with_the_full_given_name() -> None:
    records = [
        contact("full", "Thomas", "Müller", email="thomas.mueller@muster.de", **MUSTER),
        contact("initial", "T.", "Müller", email="thomas.mueller@muster.de", **MUSTER),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "full", "initial")
    assert pair is not None and pair.verdict == "duplicate"
    assert any(reason.startswith("first_name: initial T. ~ Thomas") for reason in pair.reasons)


def test_an_initial_that_fits_two_colleagues_needs_review() -> None:
    shared = {"phone": "030 1234567", "email": "mueller@muster.de", **MUSTER}
    records = [
        contact("thomas", "Thomas", "Müller", **shared),
        contact("tanja", "Tanja", "Müller", **shared),
        contact("initial", "T.", "Müller", **shared),
    ]
    pairs = find_duplicates(records, spec=CONTACT_SPEC)
    assert pair_of(pairs, "thomas", "tanja") is None
    for full in ("thomas", "tanja"):
        pair = pair_of(pairs, full, "initial")
        assert pair is not None and pair.verdict == "possible"


def test_swapped_first_and_last_name_are_recognised() -> None:
    records = [
        contact("a", "Thomas", "Müller", mobile="0171 9876543", **MUSTER),
        contact("b", "Müller", "Thomas", mobile="+49 171 9876543", **MUSTER),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate"
    assert pair.reasons[0].startswith("name: first and last name swapped")


@pytest.mark.parametrize(
    ("first_a", "last_a", "first_b", "last_b"),
    [
        ("Jürgen", "Müller", "Juergen", "Mueller"),
        ("Jürgen", "Müller", "Jurgen", "Muller"),
        ("Juergen", "Mueller", "Jurgen", "Muller"),
        ("Jürgen", "Schmidt", "Jürgen", "Schmitt"),
        ("Thomas", "Schmidt", "Tomas", "Schmidt"),
    ],
)
def test_umlaut_spellings_and_typos_match(first_a: str, last_a: str, first_b: str, last_b: str) -> None:
    records = [
        contact("a", first_a, last_a, street="Lindenweg 3", postal_code="80331", city="München", phone="089 55555"),
        contact("b", first_b, last_b, street="Lindenweg 3", postal_code="80331", city="Muenchen", phone="089/55555"),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate", pair


def test_umlaut_folding_is_explained() -> None:
    records = [
        contact("a", "Anna", "Müller", email="anna@example.org", **MUSTER),
        contact("b", "Anna", "Mueller", email="anna@example.org", **MUSTER),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None
    assert "last_name: exact (folded: Müller = Mueller)" in pair.reasons


def test_namesake_in_another_city_is_at_most_possible() -> None:
    records = [
        contact(
            "berlin",
            "Thomas",
            "Müller",
            street="Hauptstraße 5",
            postal_code="10115",
            city="Berlin",
            phone="030 1234567",
            email="thomas.mueller@web.de",
        ),
        contact(
            "hamburg",
            "Thomas",
            "Müller",
            street="Am Markt 1",
            postal_code="20095",
            city="Hamburg",
            phone="040 7654321",
            email="tm1970@gmx.de",
        ),
    ]
    pairs = find_duplicates(records, spec=CONTACT_SPEC, thresholds=Thresholds(possible=0.0))
    pair = pair_of(pairs, "berlin", "hamburg")
    assert pair is None or pair.verdict == "possible"


def test_relatives_at_one_home_address_are_not_duplicates() -> None:
    home = {"street": "Rosenweg 7", "postal_code": "50667", "city": "Köln", "phone": "0221 445566"}
    records = [
        contact("daniel", "Daniel", "Schulz", email="daniel.schulz@web.de", **home),
        contact("daniela", "Daniela", "Schulz", email="daniela.schulz@web.de", **home),
        contact("maria", "Maria", "Schulz", **home),
        contact("mario", "Mario", "Schulz", **home),
    ]
    assert find_duplicates(records, spec=CONTACT_SPEC, thresholds=Thresholds(possible=0.0)) == []


def test_excluded_pairs_are_never_proposed_again() -> None:
    records = [
        contact("a", "Thomas", "Müller", email="thomas.mueller@muster.de", **MUSTER),
        contact("b", "Thomas", "Müller", email="thomas.mueller@muster.de", **MUSTER),
    ]
    assert len(find_duplicates(records, spec=CONTACT_SPEC)) == 1
    assert find_duplicates(records, spec=CONTACT_SPEC, exclude=[("b", "a")]) == []


def test_linking_two_lists_keeps_sides_apart() -> None:
    crm = [
        contact("crm-1", "Anna", "Schmidt", email="anna.schmidt@firma.de", **MUSTER),
        contact("crm-2", "Paul", "Weber", email="p.weber@firma.de", **MUSTER),
    ]
    imported = [
        contact(7, "A.", "Schmidt", email="anna.schmidt@firma.de", **MUSTER),
        contact(8, "Paul", "Webber", email="p.weber@firma.de", **MUSTER),
        contact(9, "Anna", "Schmidt", street="Am Markt 1", postal_code="20095", city="Hamburg"),
    ]
    pairs = find_duplicates(crm, imported, spec=CONTACT_SPEC)
    sure = {(pair.a_id, pair.b_id) for pair in pairs if pair.verdict == "duplicate"}
    assert sure == {("crm-1", 7), ("crm-2", 8)}
    assert all(pair.a_id in {"crm-1", "crm-2"} for pair in pairs)


def test_records_without_ids_are_numbered_by_position() -> None:
    records = [
        {"first_name": "Eva", "last_name": "Roth", "email": "eva.roth@web.de"},
        {"first_name": "Eva", "last_name": "Roth", "email": "eva.roth@web.de"},
    ]
    pairs = find_duplicates(records, spec=CONTACT_SPEC)
    assert [(pair.a_id, pair.b_id) for pair in pairs] == [(0, 1)]


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        find_duplicates([{"id": 1}, {"id": 1}], spec=CONTACT_SPEC)


def test_tiny_and_empty_lists() -> None:
    assert find_duplicates([], spec=CONTACT_SPEC) == []
    assert find_duplicates([contact("a", "Eva", "Roth")], spec=CONTACT_SPEC) == []
    assert find_duplicates([contact("a", "Eva", "Roth")], [], spec=CONTACT_SPEC) == []


def test_companies_match_without_legal_form_but_neighbours_do_not() -> None:
    address = {"street": "Industriestraße 10", "postal_code": "70173", "city": "Stuttgart"}
    records = [
        {"id": "a", "name": "Muster GmbH", "phone": "0711 123456", **address},
        {"id": "b", "name": "Muster Gesellschaft mit beschränkter Haftung", "phone": "+49 711 123456", **address},
        {"id": "c", "name": "Bäckerei Krause e.K.", "phone": "0711 999999", **address},
    ]
    pairs = find_duplicates(records, spec=COMPANY_SPEC, thresholds=Thresholds(possible=0.0))
    assert [(pair.a_id, pair.b_id, pair.verdict) for pair in pairs] == [("a", "b", "duplicate")]


def test_person_spec_uses_birth_date_and_id() -> None:
    records = [
        {
            "id": "a",
            "first_name": "Amy",
            "last_name": "Ryan",
            "date_of_birth": "19160508",
            "national_id": "6494659",
            "street": "49 Dallas Place",
            "postal_code": "2570",
            "city": "Surfers Paradise",
            "country": "AU",
        },
        {
            "id": "b",
            "first_name": "Amie",
            "last_name": "Ryan",
            "date_of_birth": "1916-05-08",
            "national_id": "6494659",
            "street": "49 Dallas Pl",
            "postal_code": "2570",
            "city": "Surfers Paradise",
            "country": "AU",
        },
    ]
    pair = pair_of(find_duplicates(records, spec=PERSON_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate"
    assert "national_id: same (6494659)" in pair.reasons


def test_prepare_adds_comparison_columns() -> None:
    frame = prepare(
        [
            contact(
                "x",
                "Dr. Jürgen",
                "Müller",
                phone="030 1234567",
                mobile="0171 1234567",
                email="J.Mueller@Muster.de",
                **MUSTER,
            )
        ],
        CONTACT_SPEC,
    )
    row = frame.iloc[0]
    assert row["record_id"] == "x"
    assert (row["first_name"], row["first_fold"], row["last_fold"], row["first_initial"]) == (
        "Jürgen",
        "jurgen",
        "muller",
        "j",
    )
    assert row["phone_e164"] == "+49301234567" and row["mobile_e164"] == "+491711234567"
    assert (row["email_local"], row["email_domain"]) == ("j.mueller", "muster.de")
    assert row["company_key"] == "muster" and row["postal_key"] == "10115"
    assert (
        row["street_key"] == prepare([contact("y", "A", "B", street="Hauptstr. 5")], CONTACT_SPEC).iloc[0]["street_key"]
    )


def test_model_round_trips_through_json(tmp_path: Path) -> None:
    model = default_model(CONTACT_SPEC)
    path = tmp_path / "contact-model.json"
    model.save(path)
    loaded = MatchModel.load(path)
    assert loaded == model
    with pytest.raises(ValueError, match="spec"):
        find_duplicates([contact("a", "A", "B"), contact("b", "A", "B")], spec=COMPANY_SPEC, model=loaded)


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError):
        Thresholds(duplicate=0.5, possible=0.9)


def test_cologne_phonetic_groups_confusable_surnames() -> None:
    assert cologne_phonetic("schmidt") == cologne_phonetic("schmitt")
    assert cologne_phonetic("meier") == cologne_phonetic("mayer")
    assert cologne_phonetic("wikipedia") == "3412"

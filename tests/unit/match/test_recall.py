"""Pairs the matcher used to miss (issue 13 item 6), and the safeguards that must still hold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einklang.match import CONTACT_SPEC, CandidatePair, Thresholds, find_duplicates, prepare

MUSTER = {"company": "Muster GmbH", "street": "Hauptstraße 5", "postal_code": "10115", "city": "Berlin"}
EVERYTHING = Thresholds(possible=0.0)


def contact(id_: str, first: str | None, last: str | None, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "first_name": first, "last_name": last, **fields}


def pair_of(pairs: Iterable[CandidatePair], a: str, b: str) -> CandidatePair | None:
    for pair in pairs:
        if {pair.a_id, pair.b_id} == {a, b}:
            return pair
    return None


def test_every_email_of_a_record_is_compared_with_every_email_of_the_other() -> None:
    records = [
        contact("a", "Thomas", "Müller", email="t.mueller@web.de", email2="thomas.mueller@muster.de"),
        contact("b", "Thomas", "Mueller", email="thomas.mueller@muster.de", email2="t.mueller@web.de"),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate"
    assert "email: same address (t.mueller@web.de, thomas.mueller@muster.de)" in pair.reasons


def test_the_third_address_of_one_meets_the_first_of_the_other() -> None:
    records = [
        contact("a", "Thomas", "Müller", email="a@x.de", email2="b@x.de", email3="thomas.mueller@gmx.de"),
        contact("b", "Thomas", "Müller", email="thomas.mueller@gmx.de", city="Köln"),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None
    assert "email: same address (thomas.mueller@gmx.de)" in pair.reasons


def test_every_number_of_a_record_is_compared_with_every_number_of_the_other() -> None:
    records = [
        contact("a", "Thomas", "Müller", phone="030 1234567", phone2="0170 7654321"),
        contact("b", "Thomas", "Müller", mobile="+49 170 7654321", city="Hamburg"),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None
    # A mobile number in the phone field still counts as a personal number.
    assert "mobile: same number (+491707654321)" in pair.reasons


def test_same_person_at_the_same_company_without_postcode_and_with_another_mail_domain() -> None:
    records = [
        contact("a", "Thomas", "Müller", email="thomas.mueller@muster.de", **MUSTER),
        contact(
            "b",
            "Thomas",
            "Müller",
            company="Muster",
            street="Hauptstr. 5",
            city="Berlin",
            email="thomas.mueller@muster-gruppe.de",
        ),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate"


def test_same_person_at_the_same_company_found_by_company_and_surname_alone() -> None:
    records = [
        contact("a", "Thomas", "Müller", company="Muster GmbH", email="thomas.mueller@muster.de"),
        contact("b", "Thomas", "Müller", company="Muster AG", email="tm@muster-gruppe.de"),
    ]
    assert pair_of(find_duplicates(records, spec=CONTACT_SPEC, thresholds=EVERYTHING), "a", "b") is not None


def test_same_name_street_and_city_without_a_postcode() -> None:
    records = [
        contact("a", "Thomas", "Müller", street="Hauptstraße 5", postal_code="10115", city="Berlin"),
        contact("b", "Thomas", "Müller", street="Hauptstr. 5", city="Berlin"),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate"


def test_swapped_names_without_a_postcode_are_found_in_the_same_city() -> None:
    records = [
        contact("a", "Christiane", "Herrmann", street="Gartenstr. 31a", postal_code="53623", city="Bonn"),
        contact("b", "Herrmann", "Chritiane", street="Gartenstr 31a", city="Bonn"),
    ]
    assert pair_of(find_duplicates(records, spec=CONTACT_SPEC, thresholds=EVERYTHING), "a", "b") is not None


def test_colleagues_sharing_mailbox_and_switchboard_stay_apart_with_several_addresses() -> None:
    shared = {"phone": "030 1234567", "email2": "info@muster.de", **MUSTER}
    records = [
        contact("anna", "Anna", "Müller", email="mueller@muster.de", **shared),
        contact("thomas", "Thomas", "Müller", email="mueller@muster.de", phone2="030 1234567", **shared),
        contact("petra", "Petra", "Schulz", email="schulz@muster.de", **shared),
    ]
    assert find_duplicates(records, spec=CONTACT_SPEC, thresholds=EVERYTHING) == []


def test_a_switchboard_number_in_another_field_does_not_overrule_different_given_names() -> None:
    records = [
        contact("a", "Thomas", "Müller", phone="030 1234567", **MUSTER),
        contact("b", "Tanja", "Müller", phone2="+49 30 1234567", mobile="0170 1111111", **MUSTER),
    ]
    assert find_duplicates(records, spec=CONTACT_SPEC, thresholds=EVERYTHING) == []


def test_relatives_with_family_mail_addresses_need_review_even_with_a_typo_in_the_name() -> None:
    home = {"street": "Dorfstraße 66", "postal_code": "37534", "city": "Göttingen", "phone": "0551 6899942"}
    records = [
        contact("daniel", "Daniel", "Peters", email="daniel.peters@t-online.de", **home),
        contact("typo", "Danila", "Peters", email="daniela.peters@t-online.de", **home),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC, thresholds=EVERYTHING), "daniel", "typo")
    assert pair is None or pair.verdict == "possible"


def test_given_names_a_typo_apart_need_review_unless_something_personal_agrees() -> None:
    shared = {"phone": "030 1234567", "email": "mueller@muster.de", **MUSTER}
    records = [
        contact("a", "Jörg", "Müller", **shared),
        contact("b", "Jierg", "Müller", **shared),
    ]
    pair = pair_of(find_duplicates(records, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "possible"
    assert any("typing error apart" in reason for reason in pair.reasons)
    with_mobile = [dict(record, mobile="0170 7654321") for record in records]
    pair = pair_of(find_duplicates(with_mobile, spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate"


def test_prepare_lists_every_address_and_number_once() -> None:
    frame = prepare(
        [
            contact(
                "a",
                "Anna",
                "Müller",
                email="Anna.Mueller@Muster.de",
                email2="anna.mueller@muster.de",
                email3="mueller@muster.de",
                phone="030 1234567",
                mobile="0170 7654321",
                phone2="+49 170 7654321",
            )
        ],
        CONTACT_SPEC,
    )
    row = frame.iloc[0]
    assert list(row["email_addresses"]) == ["anna.mueller@muster.de", "mueller@muster.de"]
    assert list(row["email_personal_addresses"]) == ["anna.mueller@muster.de"]
    assert list(row["phone_numbers"]) == ["+49301234567", "+491707654321"]
    assert list(row["mobile_numbers"]) == ["+491707654321"]


ADDRESSES = ["thomas.mueller@muster.de", "t.mueller@web.de", "tm@posteo.de"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order_a=st.permutations(ADDRESSES),
    order_b=st.permutations(ADDRESSES),
    kept_b=st.integers(min_value=1, max_value=3),
)
def test_the_order_of_the_addresses_does_not_change_the_verdict(
    order_a: list[str], order_b: list[str], kept_b: int
) -> None:
    slots = ("email", "email2", "email3")
    record_a = contact("a", "Thomas", "Müller", city="Berlin", **dict(zip(slots, order_a, strict=True)))
    record_b = contact("b", "Thomas", "Müller", city="Berlin", **dict(zip(slots, order_b[:kept_b], strict=False)))
    pair = pair_of(find_duplicates([record_a, record_b], spec=CONTACT_SPEC), "a", "b")
    assert pair is not None and pair.verdict == "duplicate"


def test_colleagues_whose_given_names_start_differently_are_not_close() -> None:
    shared = {"phone": "030 1234567", **MUSTER}
    records = [contact("anna", "Anna", "Müller", **shared), contact("tanja", "Tanja", "Müller", **shared)]
    assert find_duplicates(records, spec=CONTACT_SPEC, thresholds=EVERYTHING) == []

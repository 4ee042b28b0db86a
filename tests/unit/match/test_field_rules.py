"""Rules across fields: house numbers, surnames spelt by mailboxes, mobile vs landline numbers."""

from __future__ import annotations

from typing import Any

from einklang.match import CONTACT_SPEC, Thresholds, find_duplicates

EVERYTHING = Thresholds(duplicate=0.99, possible=0.0)


def contact(id_: str, first: str | None, last: str | None, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "first_name": first, "last_name": last, **fields}


def only_pair(records: list[dict[str, Any]]) -> Any:
    pairs = find_duplicates(records, spec=CONTACT_SPEC, thresholds=EVERYTHING)
    return pairs[0] if pairs else None


def test_same_name_two_doors_down_needs_review() -> None:
    pair = only_pair(
        [
            contact("a", "Björn", "Meyer", street="Birkenweg 13", postal_code="18055", city="Rostock"),
            contact("b", "Björn", "Meyer", street="Birkenweg 31", postal_code="18055", city="Rostock"),
        ]
    )
    assert pair is not None and pair.verdict == "possible"
    assert "rule: same street, other house number (13 vs 31): needs review" in pair.reasons


def test_surnames_spelt_by_their_own_mailboxes_are_two_people_to_review() -> None:
    shared = {"company": "Nord GmbH", "street": "Schulstraße 8", "postal_code": "09111", "city": "Chemnitz"}
    pair = only_pair(
        [
            contact("a", "Anna", "Mayer", phone="0371 2717644", email="mayer@nord.de", **shared),
            contact("b", "Anna", "Maier", phone="0371 2717644", email="anna.maier@nord.de", **shared),
        ]
    )
    assert pair is not None and pair.verdict == "possible"
    assert any(reason.startswith("rule: surnames spelt differently") for reason in pair.reasons)
    # A typo in the name field alone (the mailbox spells the other surname) is still one person.
    typo = only_pair(
        [
            contact("a", "Anna", "Mayer", phone="0371 2717644", email="anna.mayer@nord.de", **shared),
            contact("b", "Anna", "Maer", phone="0371 2717644", email="anna.mayer@nord.de", **shared),
        ]
    )
    assert typo is not None and not any(reason.startswith("rule: surnames spelt") for reason in typo.reasons)


def test_a_mobile_and_a_landline_are_not_a_disagreement() -> None:
    records = [
        contact("a", "Katharina", "Günther", mobile="0170 1492564", postal_code="18055", city="Rostock"),
        contact("b", "Katharina", "Günthwr", phone="0381 5314994", street="Schillerstraße 31b", city="Rostock"),
    ]
    pair = only_pair(records)
    assert pair is not None and pair.score >= 0.5
    assert any(reason.startswith("phone: not comparable, a mobile vs landlines") for reason in pair.reasons)

"""Phone extensions in vCards: written as text every address book keeps, read back unchanged."""

from __future__ import annotations

from einklang.connectors.carddav import VCard, apply_fields, card_to_fields, fields_to_card
from einklang.model import FieldSpec, FieldType, coerce

PHONE = FieldSpec("phone", FieldType.PHONE)


def _round_trip(card: VCard) -> dict[str, object]:
    return card_to_fields(VCard.parse(card.serialize()))


def test_extension_is_written_as_text_and_reads_back_to_the_canonical_value() -> None:
    card = fields_to_card({"uid": "u1", "first_name": "Erika", "last_name": "Muster", "phone": "+49301234567;ext=102"})
    assert "TEL;TYPE=WORK,VOICE:+49 30 1234567 ext. 102" in card.serialize()
    read = _round_trip(card)
    assert read["phone"] == "+49 30 1234567 ext. 102"
    assert coerce(PHONE, read["phone"]) == "+49301234567;ext=102"


def test_a_changed_extension_replaces_the_number() -> None:
    card = fields_to_card({"uid": "u2", "last_name": "Muster", "phone": "+49301234567;ext=102"})
    apply_fields(card, {"phone": "+49301234567;ext=103", "mobile": "+491701234567"})
    read = _round_trip(card)
    assert coerce(PHONE, read["phone"]) == "+49301234567;ext=103"
    assert read["mobile"] == "+491701234567"


def test_numbers_without_extension_are_written_as_before() -> None:
    card = fields_to_card({"uid": "u3", "last_name": "Muster", "phone": "+49301234567"})
    assert "TEL;TYPE=WORK,VOICE:+49301234567" in card.serialize()

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from einklang.mapping import EntityMapping, FieldMap, MapKind, SplitStrategy
from einklang.model import (
    EntitySpec,
    FieldSpec,
    FieldType,
    coerce,
    decode_record,
    encode_record,
    record_hash,
)

SPEC = EntitySpec(
    "company",
    {
        "number": FieldSpec("number"),
        "name": FieldSpec("name"),
        "first_name": FieldSpec("first_name"),
        "last_name": FieldSpec("last_name"),
        "country": FieldSpec("country", FieldType.COUNTRY),
        "phone": FieldSpec("phone", FieldType.PHONE),
        "email": FieldSpec("email", FieldType.EMAIL),
        "price": FieldSpec("price", FieldType.DECIMAL),
        "active": FieldSpec("active", FieldType.BOOL),
    },
)


def mapping() -> EntityMapping:
    return EntityMapping(
        SPEC,
        [
            FieldMap("number", ("kundennr",)),
            FieldMap("name", ("name1", "name2"), MapKind.JOIN),
            FieldMap("first_name", ("kontakt",), MapKind.NAME_PART, part="first"),
            FieldMap("last_name", ("kontakt",), MapKind.NAME_PART, part="last"),
            FieldMap("country", ("land",), values={"Deutschland": "DE", "Österreich": "AT"}),
            FieldMap("phone", ("telefon",)),
            FieldMap("email", ("email",)),
            FieldMap("price", ("preis",)),
            FieldMap("active", ("aktiv",)),
        ],
    )


def test_to_canonical_normalises_and_joins() -> None:
    record, problems = mapping().to_canonical(
        {
            "kundennr": " K1 ",
            "name1": "Muster  GmbH",
            "name2": "Werk II",
            "kontakt": "Erika Mustermann",
            "land": "Deutschland",
            "telefon": "030 1234567",
            "email": "Info@Muster.DE",
            "preis": "12,50",
            "aktiv": "ja",
        }
    )
    assert problems == []
    assert record == {
        "number": "K1",
        "name": "Muster GmbH Werk II",
        "first_name": "Erika",
        "last_name": "Mustermann",
        "country": "DE",
        "phone": "+49301234567",
        "email": "info@muster.de",
        "price": Decimal("12.5"),
        "active": True,
    }


def test_formatting_noise_is_not_a_change() -> None:
    m = mapping()
    a, _ = m.to_canonical({"telefon": "+49 (0)30 123 4567", "email": "a@b.de", "land": "DE"})
    b, _ = m.to_canonical({"telefon": "030/1234567", "email": " A@B.de ", "land": "Deutschland"})
    assert record_hash(a) == record_hash(b)


def test_invalid_value_is_reported_and_left_out() -> None:
    record, problems = mapping().to_canonical({"kundennr": "K2", "email": "kaputt(at)example", "telefon": "12"})
    assert "email" not in record and "phone" not in record
    assert {p.field for p in problems} == {"email", "phone"}


def test_to_native_reverses_value_maps_and_name_parts() -> None:
    native = mapping().to_native({"country": "AT", "first_name": "Hans", "last_name": "Meier", "name": "X AG"})
    assert native["land"] == "Österreich"
    assert native["kontakt"] == "Hans Meier"
    assert native["name1"] == "X AG" and native["name2"] is None


def test_to_native_only_given_fields() -> None:
    native = mapping().to_native({"email": "a@b.de", "phone": "+491701234567"}, only=["email"])
    assert native == {"email": "a@b.de"}


def test_person_split_on_join() -> None:
    spec = EntitySpec("p", {"full": FieldSpec("full")})
    m = EntityMapping(spec, [FieldMap("full", ("vorname", "nachname"), MapKind.JOIN, split=SplitStrategy.PERSON)])
    assert m.to_native({"full": "Anna Maria Schmidt"}) == {"vorname": "Anna Maria", "nachname": "Schmidt"}


values = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.dates(),
    st.datetimes(),
)


@given(st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6))
def test_encoding_round_trips(record: dict[str, object]) -> None:
    encoded = encode_record(record)  # type: ignore[arg-type]
    assert decode_record(encoded) == record


def test_coerce_types() -> None:
    assert coerce(FieldSpec("d", FieldType.DATE), "24.12.2025") == dt.date(2025, 12, 24)
    assert coerce(FieldSpec("i", FieldType.INT), "42") == 42
    assert coerce(FieldSpec("s", FieldType.STR), "  a \u00a0 b ") == "a b"
    assert coerce(FieldSpec("s", FieldType.STR), "   ") is None


def test_a_phone_extension_is_kept_end_to_end() -> None:
    # Read as a system writes it, kept in the canonical value, written back RFC 3966 style (a
    # SQL column keeps that as given); another spelling of the same extension is no change.
    m = mapping()
    record, problems = m.to_canonical({"telefon": "030 1234567 Durchwahl 102"})
    assert problems == []
    assert record["phone"] == "+49301234567;ext=102"
    assert m.to_native(record, only=["phone"]) == {"telefon": "+49301234567;ext=102"}
    again, _ = m.to_canonical({"telefon": "+49 30 1234567 x102"})
    assert again["phone"] == record["phone"]
    other, _ = m.to_canonical({"telefon": "+49 30 1234567 x103"})
    assert other["phone"] != record["phone"]


def test_a_rule_that_needs_one_column_refuses_any_other_number() -> None:
    # a name_part rule without its column failed only when a record was written (IndexError)
    with pytest.raises(ValueError, match="name_part rule reads exactly one column"):
        FieldMap("first_name", (), MapKind.NAME_PART, part="first")
    with pytest.raises(ValueError, match="name_part rule reads exactly one column"):
        FieldMap("first_name", ("name", "name2"), MapKind.NAME_PART, part="first")
    with pytest.raises(ValueError, match="column rule maps exactly one column"):
        FieldMap("city", (), MapKind.COLUMN)

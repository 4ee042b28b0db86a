import pytest
from hypothesis import given
from hypothesis import strategies as st

from einklang.normalize import InvalidValue, normalize_postal_code, normalize_street, split_street, street_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hauptstr. 12a", ("Hauptstr.", "12a")),
        ("Hauptstr. 12 a", ("Hauptstr.", "12a")),
        ("Am Markt 3-5", ("Am Markt", "3-5")),
        ("Am Markt 3 - 5", ("Am Markt", "3-5")),
        ("Straße des 17. Juni 135", ("Straße des 17. Juni", "135")),
        ("Straße des 17. Juni", ("Straße des 17. Juni", None)),
        ("Kaiser-Wilhelm-Str. 7/9", ("Kaiser-Wilhelm-Str.", "7/9")),
        ("Hauptstr.12", ("Hauptstr.", "12")),
        ("Am Markt", ("Am Markt", None)),
        ("12 Main Street", ("Main Street", "12")),
    ],
)
def test_split_street(raw: str, expected: tuple[str, str | None]) -> None:
    assert split_street(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hauptstr. 1", "Hauptstraße 1"),
        ("Hauptstrasse 1", "Hauptstraße 1"),
        ("hauptstr. 1", "hauptstraße 1"),
        ("Berliner Str. 5", "Berliner Straße 5"),
        ("Berliner Strasse 5 b", "Berliner Straße 5b"),
        ("Str. des 17. Juni 135", "Straße des 17. Juni 135"),
        ("Strassenbahnweg 3", "Strassenbahnweg 3"),
        ("Am Markt 3-5", "Am Markt 3-5"),
        ("12 Main Street", "12 Main Street"),
    ],
)
def test_normalize_street(raw: str, expected: str) -> None:
    assert normalize_street(raw) == expected


def test_normalize_street_swiss_keeps_ss() -> None:
    assert normalize_street("Bahnhofstr. 10", country="CH") == "Bahnhofstrasse 10"


def test_street_key_meets_spellings() -> None:
    assert street_key("Hauptstr. 12 a") == street_key("Hauptstrasse 12a") == street_key("HAUPTSTRASSE 12A")


def test_empty_street_raises() -> None:
    with pytest.raises(InvalidValue):
        split_street("  ")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("10115", "DE", "10115"),
        ("D-10115", "DE", "10115"),
        ("D 10115", "DE", "10115"),
        ("01067", "DE", "01067"),
        ("1067", "DE", "01067"),
        ("A-1010", "AT", "1010"),
        ("CH-8001", "ch", "8001"),
        ("1234 ab", "NL", "1234 AB"),
        (" SW1A 1AA ", "GB", "SW1A 1AA"),
    ],
)
def test_normalize_postal_code(raw: str, country: str, expected: str) -> None:
    assert normalize_postal_code(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country"), [("123", "DE"), ("101155", "DE"), ("12345", "AT"), ("ABCDE", "DE"), ("", "DE")]
)
def test_invalid_postal_code_raises(raw: str, country: str) -> None:
    with pytest.raises(InvalidValue):
        normalize_postal_code(raw, country)


_STREETS = st.sampled_from(["Hauptstr.", "Berliner Strasse", "Am Markt", "Str. des 17. Juni", "weg"])
_NUMBERS = st.sampled_from(["", "1", "12a", "3-5", "7 / 9", "12 b"])


@given(_STREETS, _NUMBERS)
def test_normalize_street_is_idempotent(street: str, number: str) -> None:
    once = normalize_street(f"{street} {number}")
    assert normalize_street(once) == once
    assert street_key(once) == street_key(f"{street} {number}")


@given(st.from_regex(r"\A(D-)?[0-9]{4,5}\Z"))
def test_normalize_postal_code_is_idempotent(raw: str) -> None:
    once = normalize_postal_code(raw)
    assert normalize_postal_code(once) == once

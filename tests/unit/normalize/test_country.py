import pytest

from einklang.normalize import InvalidValue, country_from_region, normalize_country


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("D", "DE"),
        ("276", "DE"),
        ("Deutschland", "DE"),
        ("DEUTSCHLAND", "DE"),
        ("Germany", "DE"),
        ("BRD", "DE"),
        ("Bundesrepublik Deutschland", "DE"),
        ("Österreich", "AT"),
        ("Oesterreich", "AT"),
        ("osterreich", "AT"),
        ("A", "AT"),
        ("Schweiz", "CH"),
        ("Switzerland", "CH"),
        ("Niederlande", "NL"),
        ("Holland", "NL"),
        ("Frankreich", "FR"),
        ("Vereinigtes Königreich", "GB"),
        ("UK", "GB"),
        ("USA", "US"),
        ("Vereinigte Staaten", "US"),
        ("Polen", "PL"),
        ("Tschechien", "CZ"),
        ("Russland", "RU"),
    ],
)
def test_normalize_country(raw: str, expected: str) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize("raw", ["", "Atlantis", "XX", "Deutschlandd"])
def test_unknown_country_raises(raw: str) -> None:
    with pytest.raises(InvalidValue):
        normalize_country(raw)


@pytest.mark.parametrize("raw", ["Deutschland", "at", "Schweiz", "GBR"])
def test_normalize_country_is_idempotent(raw: str) -> None:
    once = normalize_country(raw)
    assert normalize_country(once) == once


@pytest.mark.parametrize(
    ("region", "postal_code", "expected"),
    [
        ("MO", "64118", "US"),
        ("ny", "10011-1234", "US"),
        ("New York", "10011", "US"),
        ("N.C.", "27654", "US"),
        ("ON", "K1A 0B1", "CA"),
        ("BC", "V6B2W9", "CA"),
        # a German address: five digits, but no US state
        ("Bayern", "80331", None),
        ("NW", "50667", None),
        # a US state with a postal code of another shape, or either part missing
        ("CA", "8304", None),
        ("MO", "", None),
        ("", "64118", None),
        (None, None, None),
    ],
)
def test_country_from_region_needs_a_state_and_a_postal_code_of_its_shape(
    region: str | None, postal_code: str | None, expected: str | None
) -> None:
    assert country_from_region(region, postal_code) == expected

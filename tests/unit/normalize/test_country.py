import pytest

from einklang.normalize import InvalidValue, normalize_country


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

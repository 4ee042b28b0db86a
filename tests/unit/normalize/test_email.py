import pytest

from einklang.normalize import InvalidValue, normalize_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Hans.Mueller@Example.DE ", "hans.mueller@example.de"),
        ("mailto:info@firma.de", "info@firma.de"),
        ("MAILTO:info@firma.de?subject=Hallo", "info@firma.de"),
        ("Hans Müller <hans@firma.de>", "hans@firma.de"),
        ('"Müller, Hans" <Hans@Firma.de>', "hans@firma.de"),
    ],
)
def test_normalize_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "anna.heide@@example.de", "info(at)firma.de", "no-at-sign", "a@b"])
def test_invalid_email_raises(raw: str) -> None:
    with pytest.raises(InvalidValue):
        normalize_email(raw)


def test_exchange_x500_path_is_named_as_such() -> None:
    with pytest.raises(InvalidValue, match=r"X\.500"):
        normalize_email("/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=schmidt")


@pytest.mark.parametrize("raw", ["A@B.de", "mailto:x.y@z.example", "Name <q@r.de>"])
def test_normalize_email_is_idempotent(raw: str) -> None:
    once = normalize_email(raw)
    assert normalize_email(once) == once

import pytest
from hypothesis import given
from hypothesis import strategies as st

from einklang.normalize import InvalidValue, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 (0)30 1234567", "+49301234567"),
        ("+49(0)30-1234567", "+49301234567"),
        ("0049 30 1234567", "+49301234567"),
        ("030/1234567", "+49301234567"),
        ("0170-1234567", "+491701234567"),
        ("+49 30 1234567 ext. 12", "+49301234567"),
        ("030 1234567 Durchwahl 12", "+49301234567"),
        ("030 1234567 App. 12", "+49301234567"),
        ("tel:+49-711-1234567", "+497111234567"),
        ("+41 44 123 45 67", "+41441234567"),
    ],
)
def test_normalize_phone(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_national_number_uses_default_region() -> None:
    assert normalize_phone("044 123 45 67", default_region="CH") == "+41441234567"


@pytest.mark.parametrize("raw", ["", "bitte erfragen", "12", "+49 123", "0000"])
def test_invalid_phone_raises_with_reason(raw: str) -> None:
    with pytest.raises(InvalidValue) as error:
        normalize_phone(raw)
    assert error.value.reason


def test_reason_names_region() -> None:
    with pytest.raises(InvalidValue, match="region DE"):
        normalize_phone("0301")


@given(st.sampled_from(["030", "089", "0221", "0170", "0151"]), st.integers(1_000_000, 9_999_999))
def test_normalize_phone_is_idempotent(prefix: str, subscriber: int) -> None:
    try:
        once = normalize_phone(f"{prefix} {subscriber}")
    except InvalidValue:
        return
    assert normalize_phone(once) == once


# ------------------------------------------------------------------ extensions kept (issue 13)

from einklang.normalize.phone import (  # noqa: E402
    normalize_phone_keeping_extension,
    phone_for_system,
    read_din5008_extension,
    split_extension,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 30 1234567;ext=102", "+49301234567;ext=102"),
        ("+49 30 1234567 x102", "+49301234567;ext=102"),
        ("030 1234567 Durchwahl 102", "+49301234567;ext=102"),
        ("tel:+49-30-1234567;ext=102", "+49301234567;ext=102"),
        ("+49 30 1234567", "+49301234567"),
    ],
)
def test_extension_is_kept_the_rfc3966_way(raw: str, expected: str) -> None:
    assert normalize_phone_keeping_extension(raw) == expected


def test_split_extension() -> None:
    assert split_extension("+49301234567;ext=102") == ("+49301234567", "102")
    assert split_extension("+49301234567") == ("+49301234567", None)
    assert split_extension("bitte erfragen") == ("bitte erfragen", None)


def test_each_system_style_reads_back_to_the_same_value() -> None:
    value = "+49301234567;ext=102"
    assert phone_for_system(value, "rfc3966") == value
    assert phone_for_system(value, "text") == "+49 30 1234567 ext. 102"
    assert phone_for_system(value, "din5008") == "+49 30 1234567-102"
    assert normalize_phone_keeping_extension(phone_for_system(value, "text")) == value
    assert read_din5008_extension(phone_for_system(value, "din5008")) == value


def test_a_number_without_extension_is_written_unchanged_in_every_style() -> None:
    for style in ("rfc3966", "text", "din5008"):
        assert phone_for_system("+49301234567", style) == "+49301234567"  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["+49301234567", "030 1234-56", "+49 30-", "-102", "+0 1-2", "bitte erfragen"])
def test_din5008_reading_leaves_other_text_alone(text: str) -> None:
    assert read_din5008_extension(text) == text


@given(
    st.sampled_from(["+49301234567", "+4989123456", "+41441234567", "+12125550123", "+491701234567"]),
    st.integers(min_value=0, max_value=999_999),
)
def test_written_extensions_round_trip(number: str, extension: int) -> None:
    value = f"{number};ext={extension}"
    assert normalize_phone_keeping_extension(phone_for_system(value, "text")) == value
    assert read_din5008_extension(phone_for_system(value, "din5008")) == value
    assert normalize_phone_keeping_extension(phone_for_system(value, "rfc3966")) == value

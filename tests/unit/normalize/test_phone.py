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

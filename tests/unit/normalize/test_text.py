from hypothesis import given
from hypothesis import strategies as st

from einklang.normalize import clean_text, fold


def test_clean_text_collapses_whitespace_including_nbsp() -> None:
    assert clean_text("  Hans\u00a0\u00a0Peter \t Müller\n ") == "Hans Peter Müller"


def test_clean_text_composes_to_nfc() -> None:
    assert clean_text("Mu\u0308ller") == "Müller"


def test_clean_text_empty_gives_none() -> None:
    assert clean_text(None) is None
    assert clean_text("  \u00a0 \ufeff") is None


def test_fold_meets_umlaut_transliteration_and_plain_spelling() -> None:
    assert fold("Müller") == fold("Mueller") == fold("Muller") == fold("MÜLLER") == "muller"


def test_fold_sharp_s_and_other_diacritics() -> None:
    assert fold("Weiß") == fold("Weiss")
    assert fold("Françoise Dvořák") == "francoise dvorak"
    assert fold("Søren") == "soren"


def test_fold_removes_punctuation() -> None:
    assert fold("Hans-Peter  O'Brien, Jr.") == "hans peter obrien jr"


@given(st.text())
def test_clean_text_is_idempotent(value: str) -> None:
    once = clean_text(value)
    assert clean_text(once) == once


@given(st.text())
def test_fold_is_idempotent(value: str) -> None:
    assert fold(fold(value)) == fold(value)

"""Street, house number and postal code (German conventions first)."""

from __future__ import annotations

import re

from einklang.normalize.errors import InvalidValue
from einklang.normalize.text import clean_text, fold

# A house number at the end: "12", "12a", "12 a", "3-5", "3 - 5", "7/9", "12a-c".
_TRAILING_NUMBER = re.compile(
    r"^(?P<street>.*?[^\d\s])[\s,]*(?P<number>\d+(?:\s*[a-zA-Z])?(?:\s*[-–/]\s*(?:\d+(?:\s*[a-zA-Z])?|[a-zA-Z]))*)$"
)
# A house number in front, as English and French addresses have it: "12 Main Street".
_LEADING_NUMBER = re.compile(r"^(?P<number>\d+[a-zA-Z]?)\s+(?P<street>[^\d].*)$")
# "str." / "str" / "strasse" / "straße" at the end of a word ("Hauptstr.") or alone ("Berliner Str.").
_STREET_WORD = re.compile(r"(?i)(?P<stem>\w*?)(?P<word>str\.|str\b|strasse\b|straße\b)")
_COUNTRY_PREFIX = re.compile(r"^[A-Za-z]{1,3}\s*-?\s*(?=\d)")
_DIGITS_ONLY = re.compile(r"^\d+$")
# Countries without ß, where "Str." is written "Strasse".
_NO_SHARP_S = frozenset({"CH", "LI"})


def split_street(raw: str) -> tuple[str, str | None]:
    """("Hauptstr.", "12a") from "Hauptstr. 12a"; ("Straße des 17. Juni", "135"); the number may be None."""
    street, number, _number_first = _split(raw)
    return street, number


def _split(raw: str) -> tuple[str, str | None, bool]:
    text = clean_text(raw)
    if text is None:
        raise InvalidValue("empty street", raw)
    trailing = _TRAILING_NUMBER.match(text)
    if trailing:
        return trailing.group("street").rstrip(" ,"), _clean_house_number(trailing.group("number")), False
    leading = _LEADING_NUMBER.match(text)
    if leading:
        return leading.group("street"), _clean_house_number(leading.group("number")), True
    return text, None, False


def normalize_street(raw: str, country: str = "DE") -> str:
    """Display form: "Hauptstr. 1" -> "Hauptstraße 1", "Berliner Strasse 5a" -> "Berliner Straße 5a".

    For Switzerland and Liechtenstein, which do not use ß, the long form is "strasse".
    """
    street, number, number_first = _split(raw)
    long_form = "strasse" if country.upper() in _NO_SHARP_S else "straße"

    def expand(match: re.Match[str]) -> str:
        stem, word = match.group("stem"), match.group("word")
        if word.isupper() and len(word) > 3:
            return stem + long_form.upper()
        if stem:
            return stem + long_form
        # A word of its own: "Berliner Str." -> "Berliner Straße", but keep lowercase input lowercase.
        return long_form.capitalize() if word[0].isupper() else long_form

    street = _STREET_WORD.sub(expand, street)
    if not number:
        return street
    return f"{number} {street}" if number_first else f"{street} {number}"


def street_key(raw: str) -> str:
    """Comparison key: "Hauptstr. 12 a", "Hauptstrasse 12a" and "hauptstraße 12A" meet."""
    street, number = split_street(normalize_street(raw))
    key = fold(street)
    return f"{key} {fold(number)}" if number else key


def normalize_postal_code(raw: str, country: str = "DE") -> str:
    """German codes as 5 digits ("D-10115" -> "10115"), Austrian and Swiss as 4; others trimmed.

    A German code of 4 digits gets its leading zero back ("1067" -> "01067"): spreadsheets drop it.
    Raises InvalidValue.
    """
    text = clean_text(raw)
    if text is None:
        raise InvalidValue("empty postal code", raw)
    country = country.upper()
    if country in {"DE", "AT", "CH", "LI"}:
        digits = _COUNTRY_PREFIX.sub("", text).replace(" ", "")
        expected = 5 if country == "DE" else 4
        if _DIGITS_ONLY.match(digits):
            if country == "DE" and len(digits) == 4:
                digits = "0" + digits
            if len(digits) == expected:
                return digits
        raise InvalidValue(f"not a valid postal code for {country} ({expected} digits expected)", raw)
    return text.upper()


def _clean_house_number(number: str) -> str:
    return re.sub(r"\s+", "", number).replace("–", "-")

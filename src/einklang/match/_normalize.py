"""The normalisers the matcher uses, cached and with "invalid" turned into "missing".

For matching, a value that cannot be normalised carries no evidence, exactly like an empty one,
so every function here returns ``None`` instead of raising ``InvalidValue``. Real lists repeat
the same first names, surnames, streets and cities many times; caching the pure normalisers
keeps ``prepare`` cheap at a million records.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from einklang import normalize
from einklang.normalize import InvalidValue

_CACHE = 50_000
# Numbers and addresses are mostly one person's each: a large cache would only hold them.
_UNIQUE_VALUES_CACHE = 10_000
_NOT_LETTER_OR_DIGIT = re.compile(r"[^0-9a-z]+")


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@lru_cache(maxsize=_CACHE)
def clean_text(value: str) -> str | None:
    return normalize.clean_text(value) or None


@lru_cache(maxsize=_CACHE)
def fold(value: str) -> str | None:
    # Compared with SQL string distances: "Hans-Peter" and "Hans Peter" must not differ by an edit.
    return _NOT_LETTER_OR_DIGIT.sub(" ", normalize.fold(value)).strip() or None


@lru_cache(maxsize=_UNIQUE_VALUES_CACHE)
def phone_e164(value: str, default_region: str) -> str | None:
    try:
        return normalize.normalize_phone(value, default_region) or None
    except InvalidValue:
        return None


@lru_cache(maxsize=_UNIQUE_VALUES_CACHE)
def email(value: str) -> str | None:
    try:
        return normalize.normalize_email(value).lower() or None
    except InvalidValue:
        return None


@lru_cache(maxsize=_CACHE)
def postal_code(value: str, country: str) -> str | None:
    try:
        return normalize.normalize_postal_code(value, country) or None
    except InvalidValue:
        return None


@lru_cache(maxsize=_CACHE)
def street_key(value: str) -> str | None:
    try:
        key = normalize.street_key(value)
    except InvalidValue:
        return None
    return _NOT_LETTER_OR_DIGIT.sub("", key) or None


@lru_cache(maxsize=_CACHE)
def company_key(value: str) -> str | None:
    try:
        key = normalize.company_key(value)
    except InvalidValue:
        return None
    return fold(key) if key else None


@lru_cache(maxsize=10_000)
def country(value: str) -> str | None:
    try:
        return normalize.normalize_country(value) or None
    except InvalidValue:
        return None


@lru_cache(maxsize=_CACHE)
def split_person_name(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """Given and family name without salutation or academic title, whatever field they came in.

    Parsing "last, first" (rather than each field alone) lets the parser place particles (von,
    van, zu) and titles that exports put in the wrong field.
    """
    raw = f"{last}, {first}" if first and last else (last or first)
    if not raw:
        return None, None
    try:
        parsed = normalize.parse_person_name(raw)
    except InvalidValue:
        return first, last
    given = " ".join(part for part in (parsed.first, parsed.middle) if part) or None
    family = " ".join(part for part in (parsed.particle, parsed.last) if part) or None
    if family is None and given is not None and not (first and last):
        # A lone name is more often a surname ("Müller") than a given name.
        return None, given
    return given, family


@lru_cache(maxsize=1_000)
def _number_patterns(country_code: int) -> tuple[re.Pattern[str], re.Pattern[str] | None] | None:
    """The country's mobile and fixed-line number patterns (national number), if it has any."""
    import phonenumbers

    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.mobile is None or not metadata.mobile.national_number_pattern:
        return None
    fixed = metadata.fixed_line.national_number_pattern if metadata.fixed_line else None
    return re.compile(metadata.mobile.national_number_pattern), re.compile(fixed) if fixed else None


def is_mobile_number(e164: str) -> bool:
    """A mobile number belongs to one person; a landline may be a switchboard or a family's.

    Tested against the country's mobile number pattern directly: parsing every number a second
    time for its type would double the cost of preparing a million records.
    """
    for length in (1, 2, 3):
        patterns = _number_patterns(int(e164[1 : 1 + length]))
        if patterns is not None:
            mobile, fixed = patterns
            national = e164[1 + length :]
            # Where the two look alike (North America), a number is not known to be a mobile.
            return mobile.fullmatch(national) is not None and not (fixed and fixed.fullmatch(national))
    return False


def distinct(values: list[str | None]) -> list[str] | None:
    """The values present, each once, in order; None (not an empty list) when there are none.

    None is what SQL's null tests and Splink's null level expect for "nothing to compare".
    """
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen or None


def clear_caches() -> None:
    """Empty the normalisers' caches (tens of MB when full): between the steps of a large run, where
    the next step needs the memory more than the values of the last one."""
    from einklang.match import given_names, phonetic

    for module in (globals(), vars(phonetic), vars(given_names)):
        for function in list(module.values()):
            clear = getattr(function, "cache_clear", None)
            if clear is not None and getattr(function, "__module__", "").startswith("einklang.match"):
                clear()

"""The normalisation functions the matcher relies on, with a thin stand-in until they land.

``einklang.normalize`` is being written in parallel. Everything here delegates to it when it
is importable; the private fallbacks only exist so the matcher can be developed and tested
before that, and are meant to be deleted once ``einklang.normalize`` is complete.
All functions return ``None`` for values that are empty or cannot be normalised, because for
matching an unusable value is the same as a missing one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_MISSING = object()


def _optional(name: str) -> Any:
    try:
        import einklang.normalize as normalize_package
    except ImportError:
        return _MISSING
    return getattr(normalize_package, name, _MISSING)


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn InvalidValue (and any ValueError subclass) into ``None``: for matching, invalid is missing."""

    def call(*args: Any) -> Any:
        try:
            result = function(*args)
        except ValueError:
            return None
        except Exception as error:  # InvalidValue may not derive from ValueError
            if type(error).__name__ == "InvalidValue":
                return None
            raise
        return result or None

    return call


_UMLAUT_DIGRAPHS = (("ae", "a"), ("oe", "o"), ("ue", "u"))


def _fallback_fold(text: str) -> str:
    lowered = text.casefold().replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", lowered)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    for digraph, vowel in _UMLAUT_DIGRAPHS:
        ascii_only = ascii_only.replace(digraph, vowel)
    return re.sub(r"[^a-z0-9]+", " ", ascii_only).strip()


def _fallback_clean_text(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def _fallback_phone(raw: str, default_region: str) -> str | None:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _fallback_email(raw: str) -> str | None:
    address = raw.strip().lower()
    return address if re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", address) else None


def _fallback_postal_code(raw: str, country: str | None = None) -> str | None:
    compact = re.sub(r"\s+", "", raw).upper()
    compact = re.sub(r"^(D|DE|A|AT|CH)-", "", compact)
    return compact or None


_STREET_SUFFIX = re.compile(r"(strasse|str\.?|straße)(?=\s|\d|$)", re.IGNORECASE)


def _fallback_street_key(raw: str) -> str | None:
    text = _STREET_SUFFIX.sub("str", raw)
    return _fallback_fold(text).replace(" ", "") or None


_LEGAL_FORMS = re.compile(
    r"\b(gmbh\s*&\s*co\.?\s*kg|gmbh|ag|kg|ohg|ug\s*\(haftungsbeschr[aä]nkt\)|ug|e\.\s?k\.|e\.\s?v\.|se|ltd\.?|"
    r"inc\.?|aktiengesellschaft|gesellschaft mit beschr[aä]nkter haftung|kommanditgesellschaft)(?=\s|$|,)",
    re.IGNORECASE,
)


def _fallback_company_key(raw: str) -> str | None:
    return _fallback_fold(_LEGAL_FORMS.sub(" ", raw)) or None


def _fallback_country(raw: str) -> str | None:
    names = {"deutschland": "DE", "germany": "DE", "osterreich": "AT", "austria": "AT", "schweiz": "CH"}
    folded = _fallback_fold(raw)
    if len(folded) == 2:
        return folded.upper()
    return names.get(folded)


def _resolve(name: str, fallback: Callable[..., Any]) -> Callable[..., Any]:
    found = _optional(name)
    return _guarded(fallback if found is _MISSING else found)


_fold = _resolve("fold", _fallback_fold)
_clean_text = _resolve("clean_text", _fallback_clean_text)
_phone = _resolve("normalize_phone", _fallback_phone)
_email = _resolve("normalize_email", _fallback_email)
_postal_code = _resolve("normalize_postal_code", _fallback_postal_code)
_street_key = _resolve("street_key", _fallback_street_key)
_company_key = _resolve("company_key", _fallback_company_key)
_country = _resolve("normalize_country", _fallback_country)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# Real lists repeat the same first names, surnames, streets and cities many times, so caching
# the pure normalisers keeps prepare() cheap at a million records.
@lru_cache(maxsize=200_000)
def clean_text(value: str) -> str | None:
    result = _clean_text(value)
    return str(result) if result else None


@lru_cache(maxsize=200_000)
def fold(value: str) -> str | None:
    result = _fold(value)
    if not result:
        return None
    # The folded form is compared with SQL string distances; whitespace and punctuation differences
    # ("Hans-Peter" vs "Hans Peter") must not count as edits.
    return re.sub(r"[^0-9a-z]+", " ", str(result).lower()).strip() or None


@lru_cache(maxsize=200_000)
def phone_e164(value: str, default_region: str) -> str | None:
    result = _phone(value, default_region)
    return str(result) if result else None


@lru_cache(maxsize=200_000)
def email(value: str) -> str | None:
    result = _email(value)
    return str(result).lower() if result else None


@lru_cache(maxsize=200_000)
def postal_code(value: str) -> str | None:
    result = _postal_code(value)
    return str(result) if result else None


@lru_cache(maxsize=200_000)
def street_key(value: str) -> str | None:
    result = _street_key(value)
    if not result:
        return None
    return re.sub(r"[^0-9a-z]+", "", str(result).lower()) or None


@lru_cache(maxsize=200_000)
def company_key(value: str) -> str | None:
    result = _company_key(value)
    return str(result) if result else None


@lru_cache(maxsize=10_000)
def country(value: str) -> str | None:
    result = _country(value)
    return str(result) if result else None


def text_or_none(value: Any) -> str | None:
    return _text(value)


_TITLE_WORDS = re.compile(
    r"^(herr|frau|hr\.?|fr\.?|mr\.?|mrs\.?|ms\.?|dr\.?|prof\.?|dipl\.?-?\w*\.?|med\.?|rer\.?|nat\.?|ing\.?)$",
    re.IGNORECASE,
)


def _fallback_split_name(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    if last and not first and "," in last:
        surname, _, given = last.partition(",")
        last, first = surname.strip() or None, given.strip() or None
    if first:
        words = [word for word in first.split() if not _TITLE_WORDS.match(word)]
        first = " ".join(words) or None
    return first, last


def split_person_name(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """Given and family name without salutation or academic title, whatever field they came in."""
    parse = _optional("parse_person_name")
    if parse is _MISSING:
        return _fallback_split_name(first, last)
    raw = f"{last}, {first}" if first and last else (last or first)
    if not raw:
        return None, None
    try:
        parsed = parse(raw)
    except Exception as error:
        if isinstance(error, ValueError) or type(error).__name__ == "InvalidValue":
            return _fallback_split_name(first, last)
        raise
    given = " ".join(part for part in (parsed.first, parsed.middle) if part) or None
    family = " ".join(part for part in (parsed.particle, parsed.last) if part) or None
    return given, family

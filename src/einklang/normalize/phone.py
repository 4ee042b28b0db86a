"""Telephone numbers to E.164, an extension kept the RFC 3966 way (``+49301234567;ext=102``).

The canonical value is what :func:`normalize_phone_keeping_extension` returns. Systems that
cannot store ``;ext=`` get the extension in a form they keep and einklang reads back to the
same value (:func:`phone_for_system`).
"""

from __future__ import annotations

import re
from typing import Literal

import phonenumbers

from einklang.normalize.errors import InvalidValue
from einklang.normalize.text import clean_text

_TEL_PREFIX = re.compile(r"^tel:", re.I)
# German ways of writing an extension; phonenumbers only knows "ext."/"x"/"#".
_GERMAN_EXTENSION = re.compile(r"\s*(?:durchwahl|dw\.?|app\.?|apparat|nebenstelle|nst\.?)\s*:?\s*", re.I)
# Every extension word starts with one of these letters. Searching for them is cheap and a plain
# number has none, so the (much slower) substitution is skipped. Same flag, so same case rules.
_EXTENSION_INITIAL = re.compile(r"[dan]", re.I)
# "+49 (0)30 ..." carries the national trunk prefix in brackets; it must not be dialled after +49.
_BRACKETED_TRUNK_ZERO = re.compile(r"^(\+|00)(\d{1,3})\s*\(\s*0\s*\)")


def normalize_phone(raw: str, default_region: str = "DE") -> str:
    """Return ``raw`` as an E.164 number (``+49301234567``); an extension is dropped.

    National numbers (``030/1234567``) are read as numbers of ``default_region``.
    Raises InvalidValue when the text is no valid number.
    """
    return str(phonenumbers.format_number(_parse_valid(raw, default_region), phonenumbers.PhoneNumberFormat.E164))


def normalize_phone_keeping_extension(raw: str, default_region: str = "DE") -> str:
    """Like :func:`normalize_phone`, but an extension is kept the RFC 3966 way: ``+49301234567;ext=102``.

    Extensions are recognised as "ext. 102", "x102", "#102", ";ext=102" and the German "Durchwahl",
    "DW", "App." and "Nebenstelle".
    """
    number = _parse_valid(raw, default_region)
    e164 = str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return f"{e164};ext={number.extension}" if number.extension else e164


def _parse_valid(raw: str, default_region: str) -> phonenumbers.PhoneNumber:
    region = default_region.upper()
    text = clean_text(raw)
    if text is None:
        raise InvalidValue("empty phone number", raw)
    # Each substitution only when it can match at all: they cost more than the checks, and most
    # numbers need none of them. (Every character of "tel:" matches one character, the colon only
    # itself.)
    if text[3:4] == ":":
        text = _TEL_PREFIX.sub("", text)
    if "(" in text:
        text = _BRACKETED_TRUNK_ZERO.sub(r"\1\2 ", text)
    if ";ext=" in text.lower():
        text = re.sub(r";ext=", " ext. ", text, flags=re.I)
    if _EXTENSION_INITIAL.search(text):
        text = _GERMAN_EXTENSION.sub(" ext. ", text)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidValue(f"not a phone number ({_parse_error_reason(error)})", raw) from None
    if not phonenumbers.is_valid_number(number):
        if text.startswith("+") or text.startswith("00"):
            raise InvalidValue("not a valid phone number", raw)
        raise InvalidValue(f"not a valid phone number for region {region}", raw)
    return number


def _parse_error_reason(error: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "no digits that form a number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(error.error_type, "unparseable")


PhoneStyle = Literal["rfc3966", "text", "din5008"]
_CANONICAL = re.compile(r"^(\+\d{4,15})(?:;ext=(\d{1,10}))?$")


def split_extension(value: str) -> tuple[str, str | None]:
    """A canonical value as (E.164 number, extension or None); other text is returned whole."""
    found = _CANONICAL.match(value)
    if found is None:
        return value, None
    return found.group(1), found.group(2)


def phone_for_system(value: str, style: PhoneStyle) -> str:
    """A canonical value written for a system; without an extension, the E.164 number as it is.

    ``rfc3966``: ``+49301234567;ext=102`` (SQL columns, which store text as given);
    ``text``: ``+49 30 1234567 ext. 102`` (vCard TEL, readable by every address book);
    ``din5008``: ``+49 30 1234567-102``, the German standard's way, for systems that allow only
    digits and separators (BottleCRM). :func:`read_din5008_extension` reads it back.
    """
    number, extension = split_extension(value)
    if extension is None or style == "rfc3966":
        return value
    parsed = phonenumbers.parse(number, None)
    grouped = str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
    if style == "text":
        return f"{grouped} ext. {extension}"
    # Only the extension may follow a hyphen (some countries group their digits with hyphens).
    return f"{grouped.replace('-', ' ')}-{extension}"


_DIN5008 = re.compile(r"^(\+\d[\d ]*\d)-(\d{1,6})$")


def read_din5008_extension(text: str) -> str:
    """``+49 30 1234567-102`` (an international number, a hyphen, the extension) as ``...;ext=102``.

    DIN 5008 separates the extension with a hyphen. As a whole, such text is often a valid longer
    number too, so this reading is only for systems einklang writes that way
    (:func:`phone_for_system` with ``din5008``); anything else is returned unchanged.
    """
    found = _DIN5008.match(text.strip())
    if found is None:
        return text
    try:
        number = phonenumbers.parse(found.group(1), None)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_valid_number(number):
        return text
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={found.group(2)}"

"""Telephone numbers to E.164."""

from __future__ import annotations

import re

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

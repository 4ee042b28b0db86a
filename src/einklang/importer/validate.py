"""Validate and normalise the raw contact rows the readers yield.

An invalid value is reported as a :class:`Problem` and left out of the normalised record; the
rest of the record survives.  A record without any name (no first name, last name or company)
but with an e-mail address gets a name derived from it (the address's display name, else its
local part) and a warning saying so (:data:`DERIVED_NAME_MESSAGE`); a record with nothing to name
it by is an error; what to do with it is the caller's decision.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from einklang.importer.readers.model import ContactRow, Problem, Severity
from einklang.normalize import (
    InvalidValue,
    clean_text,
    country_from_region,
    normalize_country,
    normalize_email,
    normalize_phone_keeping_extension,
    normalize_postal_code,
    normalize_salutation,
    normalize_street,
    parse_person_name,
)

_PHONE_FIELDS = ("phone", "phone2", "mobile", "fax")
_EMAIL_FIELDS = ("email", "email2", "email3")
_PLAIN_TEXT_FIELDS = ("title", "suffix", "company", "department", "position", "city", "region", "website")
_DATE_FORMATS = ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d", "%Y%m%d", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d")
_YEARLESS_DATE = re.compile(r"^--(\d\d)-?(\d\d)$")
# "1980-03-22T00:00:00Z", "19800322T000000", "1980-03-22 00:00": the date part is the birthday.
_DATE_WITH_TIME = re.compile(r"^(\d{4}-?\d\d-?\d\d)[T ]\d.*$")
# Placeholder years of "no year": Apple and CardBook write 1604, some phones 1900 with a flag.
_NO_YEAR_PLACEHOLDERS = frozenset({"1604"})
# Several addresses in one cell: "a@x.de, b@y.de", "a@x.de; b@y.de", one per line.
_ADDRESS_SEPARATORS = re.compile(r"[,;\s]+")
_ANGLE_DISPLAY = re.compile(r"^\s*\"?([^\"<>@]+?)\"?\s*<[^<>]+>\s*$")
# Google's and Android's own groups, not labels a person gave.
_SYSTEM_GROUPS = frozenset({"mycontacts", "starred", "mycontact"})
DERIVED_NAME_MESSAGE = "no name in the file: last name derived from the e-mail address"
"""Start of the warning on a record whose name was derived (the import sends these to review
when the target needs a real name)."""

_Normaliser = Callable[[str], str]


def validate_contact(row: ContactRow, default_region: str = "DE") -> tuple[dict[str, str], list[Problem]]:
    """Normalised canonical values of ``row`` and the problems found on the way.

    Phones become E.164 (read in the contact's own country when it has one, else ``default_region``),
    e-mails lowercase, the country ISO 3166 alpha-2, the street in display form, names cleaned;
    a full name in one field ("Müller, Hans" or "Hans Müller" as last name) is split.
    """
    check = _Checker(row)
    raw = {field: value for field, value in row.fields.items() if value.strip()}
    result: dict[str, str] = {}

    for field in _PLAIN_TEXT_FIELDS:
        if (text := clean_text(raw.get(field))) is not None:
            result[field] = text
    if (notes := _clean_notes(raw.get("notes"))) is not None:
        result["notes"] = notes
    if (categories := _clean_categories(raw.get("categories"))) is not None:
        result["categories"] = categories

    _names(raw, result, check)

    country = None
    if "country" in raw:
        country = check.normalise("country", raw["country"], normalize_country, "unknown country")
        if country:
            result["country"] = country
    elif inferred := country_from_region(raw.get("region"), raw.get("postal_code")):
        # A US or Canadian address without a country line: its numbers are that country's too
        # (a "(816) 739-9653" would otherwise become a German number).
        country = result["country"] = inferred
        message = (
            f"no country given; {inferred} taken from region {raw['region']!r} and postal code {raw['postal_code']!r}"
        )
        check.report("country", inferred, message, "warning")
    region = country or default_region.upper()
    if "street" in raw:
        result["street"] = normalize_street(raw["street"], region)
    if "postal_code" in raw and "country" in raw and not country:
        # The country is unknown, so its postal code rules are too: kept as written (no German
        # leading zero for a Belgian "8000").
        if (postal_text := clean_text(raw["postal_code"])) is not None:
            result["postal_code"] = postal_text
    elif "postal_code" in raw:
        postal_code = check.normalise(
            "postal_code", raw["postal_code"], lambda value: normalize_postal_code(value, region)
        )
        if postal_code:
            result["postal_code"] = postal_code
            digits = re.sub(r"\D", "", raw["postal_code"])
            if region == "DE" and len(digits) == 4:
                restored = "leading zero restored (was it lost in a spreadsheet?)"
                check.report("postal_code", raw["postal_code"], restored, "warning")

    for field in _PHONE_FIELDS:
        if field in raw:
            number = _phone(check, field, raw[field], country, default_region.upper())
            if number:
                result[field] = number
    _emails(raw, result, check)
    for number in row.unplaced_phones:
        message = f"phone number {number!r} not kept: einklang keeps phone, phone2, mobile and fax"
        check.report("phone", number, message, "warning")

    if "birthday" in raw:
        birthday = _parse_date(raw["birthday"])
        if birthday:
            result["birthday"] = birthday
        else:
            check.report("birthday", raw["birthday"], "not a date this importer knows; left out", "warning")

    if not any(result.get(field) for field in ("first_name", "last_name", "company")):
        derived = _name_from_email(raw, result)
        if derived:
            result["last_name"] = derived
            check.report("last_name", derived, f"{DERIVED_NAME_MESSAGE} ({derived!r})", "warning")
        else:
            check.report(None, None, "no name: neither first name, last name, company nor e-mail address")
    return result, check.problems


def _phone(check: _Checker, field: str, value: str, country: str | None, default_region: str) -> str | None:
    """E.164 (with ";ext=N"), read in the address's country first, then in the default region.

    A number valid only in the default region is kept with a warning: its address says otherwise.
    """
    regions = [country] if country else []
    if default_region not in regions:
        regions.append(default_region)
    reason = "not a valid phone number"
    for index, region in enumerate(regions):
        try:
            number = normalize_phone_keeping_extension(value, region)
        except InvalidValue as error:
            reason = error.reason
            continue
        if index > 0:
            check.report(
                field,
                value,
                f"not a valid number in {country} (the address's country); read as a number of {region}",
                "warning",
            )
        return number
    shown = clean_text(value) or value
    tried = f" (read in {' and in '.join(regions)})" if len(regions) > 1 else ""
    check.report(field, value, f"{reason}{tried}: {shown!r}")
    return None


def _emails(raw: dict[str, str], result: dict[str, str], check: _Checker) -> None:
    """All addresses of the e-mail fields, a cell with several split; more than three are reported."""
    seen: list[str] = []
    for field in _EMAIL_FIELDS:
        if field not in raw:
            continue
        pieces = _email_pieces(raw[field])
        for piece in pieces:
            address = check.normalise(field, piece, normalize_email)
            if address and address not in seen:
                seen.append(address)
    for field, address in zip(_EMAIL_FIELDS, seen, strict=False):
        result[field] = address
    for address in seen[len(_EMAIL_FIELDS) :]:
        check.report("email3", address, f"e-mail address {address!r} not kept: einklang keeps three", "warning")


def _email_pieces(value: str) -> list[str]:
    """One cell's addresses: the cell itself, or its pieces when it holds more than one address."""
    if value.count("@") < 2 or "<" in value:
        # a separator left at the end ("a@x.de;", as some exporters write) is no part of the address
        return [value.strip().rstrip(";,").strip()]
    return [piece for piece in _ADDRESS_SEPARATORS.split(value) if piece.strip()]


def _name_from_email(raw: dict[str, str], result: dict[str, str]) -> str | None:
    """The display name of "Hans Müller <h@x.de>", else the local part ("hans.mueller" -> "hans mueller")."""
    for field in _EMAIL_FIELDS:
        display = _ANGLE_DISPLAY.match(raw.get(field, ""))
        if display and clean_text(display.group(1)):
            return clean_text(display.group(1))
    address = result.get("email")
    if not address:
        return None
    local = address.split("@", 1)[0]
    words = clean_text(re.sub(r"[._+-]+", " ", local)) or local
    # addresses are lowercase by nature (and here after normalising): "john.doe" names "John Doe"
    return words.title() if words.islower() else words


class _Checker:
    def __init__(self, row: ContactRow) -> None:
        self.row = row
        self.problems: list[Problem] = []

    def report(self, field: str | None, value: str | None, message: str, severity: Severity = "error") -> None:
        self.problems.append(Problem(self.row.source, self.row.line, self.row.row, field, value, message, severity))

    def normalise(self, field: str, value: str, normaliser: _Normaliser, message: str | None = None) -> str | None:
        try:
            return normaliser(value)
        except InvalidValue as error:
            shown = clean_text(value) or value
            self.report(field, value, f"{message or error.reason}: {shown!r}")
            return None


def _names(raw: dict[str, str], result: dict[str, str], check: _Checker) -> None:
    first, middle, last = (clean_text(raw.get(field)) for field in ("first_name", "middle_name", "last_name"))
    salutation_raw = clean_text(raw.get("salutation"))
    if salutation_raw:
        salutation = normalize_salutation(salutation_raw)
        if salutation:
            result["salutation"] = salutation
        else:
            check.report("salutation", salutation_raw, f"unknown salutation: {salutation_raw!r}", "warning")
    single_field = _single_name_field(first, last)
    if single_field:
        field, value = single_field
        try:
            name = parse_person_name(value)
        except InvalidValue as error:
            check.report(field, value, error.reason)
        else:
            first, middle, last = name.first, name.middle, name.family_name
            for part, text in (
                ("salutation", name.salutation),
                ("title", name.title),
                ("suffix", name.suffix),
            ):
                if text and part not in result:
                    result[part] = text
            if first:
                split_message = f"full name split into first name {first!r} and last name {last!r}"
                check.report(field, value, split_message, "warning")
    for field, text in (("first_name", first), ("middle_name", middle), ("last_name", last)):
        if text:
            result[field] = text


def _single_name_field(first: str | None, last: str | None) -> tuple[str, str] | None:
    """The field holding a whole name, when the other name field is empty and splitting is needed."""
    if first and not last and "," in first:
        return "first_name", first
    if last and not first:
        tokens = last.split()
        if "," in last or len(tokens) > 1:
            return "last_name", last
    return None


def _clean_notes(value: str | None) -> str | None:
    """Notes keep their line breaks (unlike other fields); trailing spaces and blank ends go."""
    if value is None:
        return None
    lines = [clean_text(line) or "" for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n") or None


def _clean_categories(value: str | None) -> str | None:
    """Distinct labels; Google's and Android's system groups ("My Contacts", "* starred") are dropped."""
    if value is None:
        return None
    unique: dict[str, None] = {}
    for item in re.split(r"[;,]|:::", value):
        text = clean_text(item)
        if text is None:
            continue
        text = text.removeprefix("* ").strip()
        key = "".join(text.casefold().split())
        if key in _SYSTEM_GROUPS or key.startswith("systemgroup:"):
            continue
        unique.setdefault(text, None)
    return "; ".join(unique) or None


def _parse_date(value: str) -> str | None:
    """ISO date, or ``--MM-DD`` for a birthday without a year; a time of day is left out."""
    text = clean_text(value) or ""
    with_time = _DATE_WITH_TIME.match(text)
    if with_time:
        text = with_time.group(1)
    if text[:4] in _NO_YEAR_PLACEHOLDERS and len(text) > 4:
        text = "--" + text[4:].lstrip("-")
    yearless = _YEARLESS_DATE.match(text)
    if yearless:
        return f"--{yearless.group(1)}-{yearless.group(2)}"
    for date_format in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, date_format).date().isoformat()
        except ValueError:
            continue
    return None

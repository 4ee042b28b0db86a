"""From the slots a file fills to the canonical contact fields.

Rules (the same for every format):

* **Address**: one whole address block is taken, never a mix: the business address if any of its
  parts is filled, else the home address, else the "other" address, else a plain (untyped) one.
  Street lines 2 and 3 are appended to the street with ", "; a PO box is used only without a street.
* **Phones**: ``phone`` and ``phone2`` are the first two distinct numbers of business, company main,
  primary, business 2, home, home 2, other.  ``mobile`` falls back to a second mobile, ``fax`` to the
  home and then the other fax.
* **E-mail**: an Outlook entry of type ``EX`` holds an Exchange X.500 path; when its display name
  carries the SMTP address ("Name (a@b.de)") that address is used, else the path stays and
  validation reports it.
* **Name**: a full-name column ("Name", vCard ``FN``) fills ``last_name`` when the file gives no
  first or last name (validation splits it), and ``last_name`` when only a first name is given
  (German lists headed "Vorname;Name") -- unless it only repeats that first name (a card with a
  given name alone keeps an empty last name) or starts with it (then the rest is the last name).
* **One-cell address**: a street holding the whole address ("Hauptstr. 1, 12345 Berlin" or on
  several lines) is split into street, postal code, city (and country) when the block has no
  postal code and city of its own.
* **Columns found by their words** (``*.extra`` slots, see headers): e-mails after the known ones,
  phones after the known ones; more than three e-mails end in ``email3`` for validation to split
  and report.
* **Birthday in parts** (Thunderbird: year, month, day): one date, ``--MM-DD`` without a year.
* **Company cards**: a last name that only repeats the company (and no first name) is no
  person's name; the company names the contact.
* **Prefix**: Outlook's "Anrede"/"Title" and vCard's N prefix are split into salutation and title.
"""

from __future__ import annotations

import re

from einklang.importer.readers.model import CONTACT_FIELDS
from einklang.normalize import split_name_prefix

_ADDRESS_BLOCKS = ("business", "home", "other", "plain")
_PHONE_ORDER = (
    "phone.business",
    "phone.company",
    "phone.primary",
    "phone.business2",
    "phone.home",
    "phone.home2",
    "phone.other",
)
_EMBEDDED_ADDRESS = re.compile(r"\(([^()\s]+@[^()\s]+)\)")
# Outlook writes these for "no date".
_EMPTY_DATES = frozenset({"0.0.00", "0/0/00", "00.00.00", "0.0.0000", "00.00.0000", "0/0/0000"})


def is_blank(value: str) -> bool:
    return not value.strip() or value.strip() in _EMPTY_DATES


def assemble_contact(slots: dict[str, str]) -> dict[str, str]:
    """Canonical fields from filled slots (blank slots must already be left out)."""
    return assemble(slots)[0]


def assemble(slots: dict[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Canonical fields, and the phone numbers that found no field (for validation to report)."""
    fields: dict[str, str] = {name: slots[name] for name in CONTACT_FIELDS if name in slots}
    _take_birthday(slots, fields)
    _take_prefix(slots, fields)
    _take_full_name(slots, fields)
    _take_address(slots, fields)
    unplaced = _take_phones(slots, fields)
    _take_emails(slots, fields)
    return {name: fields[name] for name in CONTACT_FIELDS if fields.get(name, "").strip()}, unplaced


def first_free(slots: dict[str, str], names: tuple[str, ...], value: str, overflow: str | None = None) -> None:
    """Put ``value`` into the first of ``names`` that is still empty (readers with repeated values).

    With all of them filled, the value is added to the ``overflow`` slot (one per line) so that it
    is placed later or reported -- never dropped unseen.
    """
    for name in names:
        if name not in slots:
            slots[name] = value
            return
    if overflow is not None:
        slots[overflow] = f"{slots[overflow]}\n{value}" if overflow in slots else value


def _take_prefix(slots: dict[str, str], fields: dict[str, str]) -> None:
    if "prefix" not in slots:
        return
    salutation, title = split_name_prefix(slots["prefix"])
    if salutation and "salutation" not in fields:
        fields["salutation"] = salutation
    if title and "title" not in fields:
        fields["title"] = title


def _take_full_name(slots: dict[str, str], fields: dict[str, str]) -> None:
    company = " ".join(fields.get("company", "").split())
    last_name = " ".join(fields.get("last_name", "").split())
    if company and last_name.casefold() == company.casefold() and not fields.get("first_name", "").strip():
        # A company's card with the company in N's family slot ("N:Aspaas Sykler;;;;" beside
        # "ORG:Aspaas Sykler"): the company names it, there is no person to split into names.
        del fields["last_name"]
        return
    full_name = " ".join(slots.get("full_name", "").split())
    # A company's card repeats the company as its display name (vCard FN = ORG): no person there.
    if not full_name or full_name == fields.get("company", "").strip() or "last_name" in fields:
        return
    given = " ".join(part for part in (fields.get("first_name", ""), fields.get("middle_name", "")) if part)
    given = " ".join(given.split())
    if given and full_name.casefold() == given.casefold():
        return  # only a given name: it is not also the last name
    if given and full_name.casefold().startswith(given.casefold() + " "):
        fields["last_name"] = full_name[len(given) + 1 :].strip()
        return
    fields["last_name"] = full_name


def _take_birthday(slots: dict[str, str], fields: dict[str, str]) -> None:
    month = slots.get("birth.month", "").strip()
    day = (slots.get("birth.day") or slots.get("birth.day_or_date", "")).strip()
    if month.isdigit() and day.isdigit():
        year = slots.get("birth.year", "").strip()
        date = f"{int(month):02d}-{int(day):02d}"
        fields.setdefault("birthday", f"{int(year):04d}-{date}" if year.isdigit() else f"--{date}")
    elif "birth.day_or_date" in slots and "birth.month" not in slots:
        fields.setdefault("birthday", slots["birth.day_or_date"])


def _take_address(slots: dict[str, str], fields: dict[str, str]) -> None:
    for block in _ADDRESS_BLOCKS:
        parts = {key.split(".", 1)[1]: value for key, value in slots.items() if key.startswith(block + ".")}
        if not parts:
            continue
        street_lines = [
            line.strip()
            for key in ("street", "street2", "street3")
            for line in parts.get(key, "").splitlines()
            if line.strip()
        ]
        if street_lines and "postal_code" not in parts and "city" not in parts:
            parts.update(split_one_cell_address(street_lines))
            street_lines = [parts.pop("street")] if parts.get("street") else []
        if street_lines:
            fields["street"] = ", ".join(street_lines)
        elif "pobox" in parts:
            pobox = parts["pobox"].strip()
            # "P.O. Box 101" or "Postfach 12 34" already say what they are
            fields["street"] = pobox if re.match(r"(?i)p\.?\s*o\.?\s*box|postfach", pobox) else f"Postfach {pobox}"
        for part in ("postal_code", "city", "region", "country"):
            if part in parts:
                fields[part] = parts[part]
        return


# "12345 Berlin", "D-12345 Berlin", "1010 Wien"; and the American "New York, NY 10001".
_POSTCODE_CITY = re.compile(r"^(?:[A-Z]{1,2}-)?(\d{4,5})\s+(\S.*)$")
_CITY_STATE_ZIP = re.compile(r"^(.+?),?\s+([A-Z]{2})\s+(\d{5}(?:-\d{4})?)$")


def split_one_cell_address(lines: list[str]) -> dict[str, str]:
    """Street, postal code, city (region, country) from an address written in one cell.

    ``lines`` are its lines (or its ", "-separated parts when it has one line).  Without a
    recognisable "postal code + city" part the text stays the street, unchanged.
    """
    parts = [part.strip() for line in lines for part in (line.split(",") if len(lines) == 1 else [line])]
    parts = [part for part in parts if part]
    if len(lines) == 1 and len(parts) > 1:
        # "New York, NY 10001" needs its comma back to be recognised
        joined_tail = f"{parts[-2]}, {parts[-1]}"
        american = _CITY_STATE_ZIP.match(joined_tail)
        if american and len(parts) > 2:
            return {
                "street": ", ".join(parts[:-2]),
                "city": american.group(1),
                "region": american.group(2),
                "postal_code": american.group(3),
            }
    for index, part in enumerate(parts):
        if index == 0:
            continue
        match = _POSTCODE_CITY.match(part) or _CITY_STATE_ZIP.match(part)
        if match is None:
            continue
        result = {"street": ", ".join(parts[:index])}
        if match.re is _POSTCODE_CITY:
            result.update(postal_code=match.group(1), city=match.group(2))
        else:
            result.update(city=match.group(1), region=match.group(2), postal_code=match.group(3))
        if index + 1 < len(parts):
            result["country"] = ", ".join(parts[index + 1 :])
        return result
    return {"street": ", ".join(lines)}


def _take_phones(slots: dict[str, str], fields: dict[str, str]) -> tuple[str, ...]:
    """phone, phone2, mobile, fax; returns the distinct numbers none of them took."""
    numbers: list[str] = []
    candidates = [slots.get(name) for name in _PHONE_ORDER] + _extra(slots, "phone.extra")
    for value in candidates:
        if value and _digits(value) not in {_digits(number) for number in numbers}:
            numbers.append(value)
    for field, number in zip(("phone", "phone2"), numbers, strict=False):
        fields[field] = number
    mobiles = [number for number in (slots.get("phone.mobile2", ""), *_extra(slots, "mobile.extra")) if number]
    if "mobile" not in fields and mobiles:
        fields["mobile"] = mobiles[0]
    faxes = [
        number
        for number in (slots.get("fax.home", ""), slots.get("fax.other", ""), *_extra(slots, "fax.extra"))
        if number
    ]
    if "fax" not in fields and faxes:
        fields["fax"] = faxes[0]
    kept = {_digits(fields[field]) for field in ("phone", "phone2", "mobile", "fax") if field in fields}
    unplaced: dict[str, str] = {}
    for number in [*numbers[2:], *mobiles, *faxes, *_extra(slots, "phone.unplaced")]:
        if _digits(number) not in kept:
            unplaced.setdefault(_digits(number), number)
    return tuple(unplaced.values())


def _extra(slots: dict[str, str], name: str) -> list[str]:
    return [value.strip() for value in slots.get(name, "").split("\n") if value.strip()]


def _take_emails(slots: dict[str, str], fields: dict[str, str]) -> None:
    extra = _extra(slots, "email.extra")
    if extra:
        addresses = [fields[field] for field in ("email", "email2", "email3") if field in fields] + extra
        for field, address in zip(("email", "email2"), addresses, strict=False):
            fields[field] = address
        if len(addresses) > 2:
            # validation splits this and reports what does not fit
            fields["email3"] = ", ".join(addresses[2:])
    for field in ("email", "email2", "email3"):
        value = fields.get(field)
        if value is None or slots.get(f"{field}.type", "").strip().upper() != "EX":
            continue
        embedded = _EMBEDDED_ADDRESS.search(slots.get(f"{field}.display", ""))
        if embedded:
            fields[field] = embedded.group(1)


def _digits(value: str) -> str:
    """What makes two numbers the same: their digits, or (without any digit) the text itself."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits or " ".join(value.casefold().split())

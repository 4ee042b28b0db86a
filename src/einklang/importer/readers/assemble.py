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
  (German lists headed "Vorname;Name").
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
    fields: dict[str, str] = {name: slots[name] for name in CONTACT_FIELDS if name in slots}
    _take_prefix(slots, fields)
    _take_full_name(slots, fields)
    _take_address(slots, fields)
    _take_phones(slots, fields)
    _take_emails(slots, fields)
    return {name: fields[name] for name in CONTACT_FIELDS if fields.get(name, "").strip()}


def first_free(slots: dict[str, str], names: tuple[str, ...], value: str) -> None:
    """Put ``value`` into the first of ``names`` that is still empty (readers with repeated values)."""
    for name in names:
        if name not in slots:
            slots[name] = value
            return


def _take_prefix(slots: dict[str, str], fields: dict[str, str]) -> None:
    if "prefix" not in slots:
        return
    salutation, title = split_name_prefix(slots["prefix"])
    if salutation and "salutation" not in fields:
        fields["salutation"] = salutation
    if title and "title" not in fields:
        fields["title"] = title


def _take_full_name(slots: dict[str, str], fields: dict[str, str]) -> None:
    full_name = slots.get("full_name")
    # A company's card repeats the company as its display name (vCard FN = ORG): no person there.
    if full_name and full_name.strip() == fields.get("company", "").strip():
        return
    if full_name and "last_name" not in fields:
        fields["last_name"] = full_name


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
        if street_lines:
            fields["street"] = ", ".join(street_lines)
        elif "pobox" in parts:
            fields["street"] = f"Postfach {parts['pobox'].strip()}"
        for part in ("postal_code", "city", "region", "country"):
            if part in parts:
                fields[part] = parts[part]
        return


def _take_phones(slots: dict[str, str], fields: dict[str, str]) -> None:
    numbers: list[str] = []
    for name in _PHONE_ORDER:
        value = slots.get(name)
        if value and _digits(value) not in {_digits(number) for number in numbers}:
            numbers.append(value)
    for field, number in zip(("phone", "phone2"), numbers, strict=False):
        fields[field] = number
    if "mobile" not in fields and "phone.mobile2" in slots:
        fields["mobile"] = slots["phone.mobile2"]
    if "fax" not in fields:
        fax = slots.get("fax.home") or slots.get("fax.other")
        if fax:
            fields["fax"] = fax


def _take_emails(slots: dict[str, str], fields: dict[str, str]) -> None:
    for field in ("email", "email2", "email3"):
        value = fields.get(field)
        if value is None or slots.get(f"{field}.type", "").strip().upper() != "EX":
            continue
        embedded = _EMBEDDED_ADDRESS.search(slots.get(f"{field}.display", ""))
        if embedded:
            fields[field] = embedded.group(1)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())

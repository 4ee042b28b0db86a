"""Outlook's own data files (.pst, .ost): the contacts inside, read with libpff (``pypff``).

Every folder is walked; every item of message class ``IPM.Contact`` is one record (distribution
lists, ``IPM.DistList``, are not contacts and are counted in a warning).  The MAPI properties of
a contact map to the same slots a CSV or vCard fills, so the same assembling and validation
apply.  E-mail addresses are named properties (PidLidEmail1EmailAddress, ...) and are found
through the file's name-to-id map.  ``line`` of a record is its number in the file (a PST has no
lines), so messages read ``file.pst:12:email: ...`` for the twelfth contact.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from einklang.importer.readers.assemble import assemble
from einklang.importer.readers.model import ContactRow, Problem, ReaderError

# MAPI property tags (the upper 16 bits, MS-OXPROPS) and the slot each fills.
_TAG_SLOTS: dict[int, str] = {
    0x3001: "full_name",  # PidTagDisplayName
    0x3A06: "first_name",  # PidTagGivenName
    0x3A44: "middle_name",  # PidTagMiddleName
    0x3A11: "last_name",  # PidTagSurname
    0x3A45: "prefix",  # PidTagDisplayNamePrefix ("Dr.", "Herr")
    0x3A05: "suffix",  # PidTagGeneration
    0x3A16: "company",  # PidTagCompanyName
    0x3A18: "department",  # PidTagDepartmentName
    0x3A17: "position",  # PidTagTitle (the job title)
    0x3A08: "phone.business",  # PidTagBusinessTelephoneNumber
    0x3A1B: "phone.business2",  # PidTagBusiness2TelephoneNumber
    0x3A57: "phone.company",  # PidTagCompanyMainTelephoneNumber
    0x3A1A: "phone.primary",  # PidTagPrimaryTelephoneNumber
    0x3A09: "phone.home",  # PidTagHomeTelephoneNumber
    0x3A2F: "phone.home2",  # PidTagHome2TelephoneNumber
    0x3A1F: "phone.other",  # PidTagOtherTelephoneNumber
    0x3A1C: "mobile",  # PidTagMobileTelephoneNumber
    0x3A24: "fax",  # PidTagBusinessFaxNumber
    0x3A25: "fax.home",  # PidTagHomeFaxNumber
    0x3A29: "business.street",  # PidTagStreetAddress (business)
    0x3A27: "business.city",  # PidTagLocality
    0x3A28: "business.region",  # PidTagStateOrProvince
    0x3A2A: "business.postal_code",  # PidTagPostalCode
    0x3A26: "business.country",  # PidTagCountry
    0x3A2B: "business.pobox",  # PidTagPostOfficeBox
    0x3A5D: "home.street",  # PidTagHomeAddressStreet
    0x3A59: "home.city",  # PidTagHomeAddressCity
    0x3A5C: "home.region",  # PidTagHomeAddressStateOrProvince
    0x3A5B: "home.postal_code",  # PidTagHomeAddressPostalCode
    0x3A5A: "home.country",  # PidTagHomeAddressCountry
    0x3A63: "other.street",  # PidTagOtherAddressStreet
    0x3A5F: "other.city",  # PidTagOtherAddressCity
    0x3A62: "other.region",  # PidTagOtherAddressStateOrProvince
    0x3A61: "other.postal_code",  # PidTagOtherAddressPostalCode
    0x3A60: "other.country",  # PidTagOtherAddressCountry
    0x3A51: "website",  # PidTagBusinessHomePage
    0x3A42: "birthday",  # PidTagBirthday
}
_PERSONAL_HOME_PAGE = 0x3A50
_MESSAGE_CLASS = 0x001A
# Named properties in PSETID_Address (MS-OXOCNTC): the numbers the name-to-id map gives.
_NAMED_SLOTS: dict[int, str] = {
    0x8083: "email",  # PidLidEmail1EmailAddress
    0x8093: "email2",
    0x80A3: "email3",
    0x8082: "email.type",  # PidLidEmail1AddressType ("SMTP", "EX")
    0x8092: "email2.type",
    0x80A2: "email3.type",
    0x8080: "email.display",  # PidLidEmail1DisplayName
    0x8090: "email2.display",
    0x80A0: "email3.display",
}


def contact_slots(properties: dict[int, Any], named: dict[int, Any]) -> dict[str, str]:
    """Slots from a contact's MAPI properties (by tag) and named properties (by number).

    Pure, so that the mapping is tested without a PST file; values that are empty are left out.
    """
    slots: dict[str, str] = {}
    for tag, slot in _TAG_SLOTS.items():
        text = _text(properties.get(tag))
        if text:
            slots[slot] = text
    if "website" not in slots and _text(properties.get(_PERSONAL_HOME_PAGE)):
        slots["website"] = _text(properties.get(_PERSONAL_HOME_PAGE))
    for number, slot in _NAMED_SLOTS.items():
        text = _text(named.get(number))
        if text:
            slots[slot] = text
    return slots


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        # Outlook stores a birthday as midnight local time in UTC: the date is what was meant.
        return (value + datetime.timedelta(hours=12)).date().isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-16-le", errors="replace").rstrip("\x00").strip()
    return str(value).strip()


def read_outlook_data_rows(path: Path, source: str) -> Iterator[ContactRow | Problem]:
    try:
        import pypff
    except ImportError:  # pragma: no cover - a dependency of einklang; only a broken install lacks it
        raise ReaderError(source, "reading .pst/.ost files needs libpff-python (pip install libpff-python)") from None
    data_file = pypff.file()
    try:
        data_file.open(str(path))
    except (OSError, ValueError) as error:
        raise ReaderError(source, f"not a readable Outlook data file (.pst/.ost): {error}") from None
    return _contacts(data_file, source)


def _contacts(data_file: Any, source: str) -> Iterator[ContactRow | Problem]:
    row_number = 0
    skipped_lists = 0
    try:
        for item in _messages(data_file.get_root_folder()):
            try:
                properties, named = _properties(item)
            except (OSError, ValueError) as error:
                row_number += 1
                yield Problem(
                    source, row_number, row_number, None, None, f"item not readable: {error}", record_lost=True
                )
                continue
            message_class = _text(properties.get(_MESSAGE_CLASS))
            if message_class.startswith("IPM.DistList"):
                skipped_lists += 1
            if not message_class.startswith("IPM.Contact"):
                continue
            row_number += 1
            slots = contact_slots(properties, named)
            body = _safe(item, "plain_text_body")
            notes = body.decode("utf-8", errors="replace").strip() if isinstance(body, bytes) else _text(body)
            if notes:
                slots["notes"] = notes
            fields, unplaced = assemble(slots)
            yield ContactRow(source, row_number, row_number, "outlook-pst", fields, unplaced_phones=unplaced)
    finally:
        data_file.close()
    if skipped_lists:
        yield Problem(
            source, None, None, None, None, f"{skipped_lists} distribution list(s) left out: not contacts", "warning"
        )


def _messages(folder: Any) -> Iterator[Any]:
    for index in range(folder.get_number_of_sub_messages()):
        yield folder.get_sub_message(index)
    for index in range(folder.get_number_of_sub_folders()):
        yield from _messages(folder.get_sub_folder(index))


def _properties(item: Any) -> tuple[dict[int, Any], dict[int, Any]]:
    properties: dict[int, Any] = {}
    named: dict[int, Any] = {}
    for set_index in range(item.get_number_of_record_sets()):
        record_set = item.get_record_set(set_index)
        for entry_index in range(record_set.get_number_of_entries()):
            entry = record_set.get_entry(entry_index)
            tag = entry.get_entry_type()
            value = _entry_value(entry)
            if tag >= 0x8000:
                mapped = entry.get_name_to_id_map_entry()
                number = getattr(mapped, "number", None) if mapped is not None else None
                if isinstance(number, int):
                    named.setdefault(number, value)
            else:
                properties.setdefault(tag, value)
    return properties, named


def _entry_value(entry: Any) -> Any:
    for getter in ("get_data_as_string", "get_data_as_datetime"):
        try:
            return getattr(entry, getter)()
        except (OSError, TypeError, ValueError):
            continue
    return None


def _safe(item: Any, attribute: str) -> Any:
    try:
        return getattr(item, attribute)
    except (OSError, ValueError):
        return None

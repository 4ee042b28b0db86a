"""Outlook data files (.pst/.ost) through libpff.

No PST file with a licence that allows shipping it was found (see the collection README), so the
mapping from MAPI properties to contact fields is tested on its own (a pure function), and the
reader against libpff itself with files it must refuse, naming the file.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from einklang.importer.incoming import read_file
from einklang.importer.readers import ReaderError, read_contacts, sniff_format
from einklang.importer.readers.assemble import assemble_contact
from einklang.importer.readers.outlook_data import contact_slots


def test_mapi_properties_map_to_contact_fields() -> None:
    properties = {
        0x3A06: "Erika",
        0x3A11: "Mustermann",
        0x3A45: "Dr.",
        0x3A16: "Muster GmbH",
        0x3A17: "Einkauf",
        0x3A08: "+49 30 1234567",
        0x3A1C: "0171 7654321",
        0x3A24: "+49 30 1234568",
        0x3A29: "Heidestraße 17",
        0x3A27: "Köln",
        0x3A2A: "51147",
        0x3A26: "Deutschland",
        0x3A42: datetime.datetime(1964, 8, 11, 22, 0),  # midnight in Berlin, stored as UTC
        0x3A51: "https://muster.example",
    }
    named = {0x8083: "erika@muster.example", 0x8082: "SMTP", 0x8093: "e.m@privat.example"}
    fields = assemble_contact(contact_slots(properties, named))
    assert fields == {
        "title": "Dr.",
        "first_name": "Erika",
        "last_name": "Mustermann",
        "company": "Muster GmbH",
        "position": "Einkauf",
        "street": "Heidestraße 17",
        "postal_code": "51147",
        "city": "Köln",
        "country": "Deutschland",
        "phone": "+49 30 1234567",
        "mobile": "0171 7654321",
        "fax": "+49 30 1234568",
        "email": "erika@muster.example",
        "email2": "e.m@privat.example",
        "website": "https://muster.example",
        "birthday": "1964-08-12",
    }


def test_exchange_address_falls_back_to_the_smtp_address_in_the_display_name() -> None:
    named = {
        0x8083: "/o=Firma/ou=Exchange/cn=Recipients/cn=emueller",
        0x8082: "EX",
        0x8080: "Eva Müller (eva@firma.example)",
    }
    fields = assemble_contact(contact_slots({0x3A11: "Müller"}, named))
    assert fields["email"] == "eva@firma.example"


def test_a_damaged_pst_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.pst"
    path.write_bytes(b"!BDN" + b"\x00" * 508)
    assert sniff_format(path, "mailbox.pst") == "outlook-data"
    with pytest.raises(ReaderError, match=r"^mailbox\.pst: not a readable Outlook data file"):
        read_contacts(path, source_name="mailbox.pst")
    report, rows = read_file(path, "mailbox.pst")
    assert rows == [] and report.error is not None and report.error.startswith("mailbox.pst:")

"""The real-world collection (tests/fixtures/realworld, see its README): nothing lost silently.

One collection test over every file -- every contact is read or reported with its reason, every
e-mail address a plain regex finds arrives in the read records or is reported, no read value is
mojibake unless a problem says so -- and per exporter a test of the values read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from einklang.importer.incoming import FileReport, IncomingRow, read_file

COLLECTION = Path(__file__).parents[3] / "fixtures" / "realworld"
FILES = sorted(p for p in COLLECTION.rglob("*") if p.is_file() and p.name != "README.md")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
BEGIN = re.compile(r"(?im)^BEGIN:VCARD\r*$")
MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|Ã¤|Ã¶|Ã¼|â€|\ufffd")


def _read(relative: str) -> tuple[FileReport, list[IncomingRow]]:
    return read_file(COLLECTION / relative, relative)


def _only(relative: str) -> dict[str, str]:
    report, rows = _read(relative)
    assert report.error is None and len(rows) == 1, (report.error, rows)
    return rows[0].values


def test_the_collection_has_a_readme_entry_for_every_file() -> None:
    readme = (COLLECTION / "README.md").read_text(encoding="utf-8")
    missing = [str(p.relative_to(COLLECTION)) for p in FILES if f"`{p.relative_to(COLLECTION)}`" not in readme]
    assert not missing, missing


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(COLLECTION)))
def test_nothing_in_a_real_file_is_lost_silently(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    report, rows = read_file(path, str(path))
    assert report.error is None, report.error
    if path.suffix == ".vcf":
        assert report.rows_read == len(BEGIN.findall(text))
    # every contact read, or left out with a problem that names its row
    left_out = report.rows_read - report.rows_usable
    assert left_out == report.rows_left_out
    read_rows = {row.row for row in rows}
    unread = {p.row for p in report.problems if (p.severity == "error" or p.record_lost) and p.row} - read_rows
    assert len(unread) >= left_out
    # every address arrives in a read value, or a problem shows it
    values = " ".join(value.casefold() for row in rows for value in row.values.values())
    problems = " ".join(f"{p.value} {p.message}".casefold() for p in report.problems)
    for address in {m.group(0).casefold().rstrip(".") for m in EMAIL.finditer(text)}:
        assert address in values or address in problems, address
    # no mojibake in what was read unless a problem of that row says so
    for row in rows:
        if any(MOJIBAKE.search(value) for value in row.values.values()):
            assert any(p.row == row.row and "garbled" in p.message for p in report.problems), row.values


def test_outlook_vcard_21_values() -> None:
    values = _only("outlook/John_Doe_MS_OUTLOOK.vcf")
    assert values["first_name"] == "John" and values["last_name"] == "Doe"
    assert values["middle_name"] == "Richter James" and values["salutation"] == "Mr"
    assert (values["company"], values["department"]) == ("IBM", "Accounting")
    # the work address (ADR;WORK;PREF), its country read as the USA, so the phones are American
    assert (values["street"], values["city"], values["postal_code"], values["country"]) == (
        "Cresent moon drive",
        "Albaney",
        "12345",
        "US",
    )
    assert (values["phone"], values["phone2"]) == ("+19055551234", "+19056661234")
    assert values["email"] == "john.doe@ibm.cm" and values["birthday"] == "1980-03-22"
    report, _ = _read("outlook/John_Doe_MS_OUTLOOK.vcf")
    assert report.binary_skipped == 1  # the PHOTO
    assert any(p.field == "X-MS-IMADDRESS" and p.value == "johny5@aol.com" for p in report.problems)


def test_outlook_2007_quoted_printable_note_and_fax_apart() -> None:
    report, [row] = _read("outlook/outlook-2007.vcf")
    assert row.values["notes"].splitlines()[0] == "This is the NOTE field"
    assert row.values["street"] == "222 Broadway, TheOffice"
    # (111) is no American area code: every number is reported, none is taken as German
    invalid = {p.field for p in report.problems if p.severity == "error"}
    assert invalid == {"phone", "phone2", "mobile", "fax"}
    assert not any(key in row.values for key in ("phone", "phone2", "mobile", "fax"))


def test_android_cards_with_only_an_email_and_per_property_charsets() -> None:
    report, rows = _read("android/John_Doe_ANDROID.vcf")
    assert len(rows) == 6
    assert rows[0].values == {"email": "john.doe@comapny.com", "last_name": "John Doe"}
    assert rows[0].name_derived and not rows[2].name_derived
    assert rows[2].values["last_name"] == "Ñ"
    assert all("categories" not in row.values for row in rows)  # "My Contacts" is Android's, not a label
    # the second ORG of the last card ends in a lone byte 0x80: reported, the first ORG is used
    assert rows[5].values["company"] == "Ñ" * 44
    assert any(p.field == "ORG" and "garbled" in p.message for p in report.problems)


def test_nokia_quoted_printable_soft_breaks_with_charset() -> None:
    values = _only("nokia/eds-12.vcf")
    assert (values["first_name"], values["last_name"]) == ("Michael", "Brüning")
    assert (values["street"], values["postal_code"], values["city"], values["region"]) == (
        "Münsterplatz 21",
        "89073",
        "Ulm",
        "Baden-Württemberg",
    )
    assert values["mobile"] == "+491622433834" and values["phone"] == "+4973117546691"


def test_cardbook_year_less_birthday_stays_year_less() -> None:
    values = _only("cardbook/contact4-with-bday-no-year.vcf")
    assert values["birthday"] == "--01-01"


def test_chinese_quoted_printable_utf8() -> None:
    values = _only("radicale/vcard-quoted-printable1.vcf")
    assert (values["last_name"], values["first_name"], values["city"]) == ("黄", "世勇", "北京 丰台区")
    assert values["website"] == "http://weibo.com/3094900433?闪闪H红星"


def test_base64_notes_are_decoded_not_dropped() -> None:
    _report, rows = _read("php-vcard/encoding.vcf")
    assert [row.values.get("notes") for row in rows] == ["Lieblingsfarbe: Violett"] * 4 + ["Ludwig-Götz Graßl"] * 4


def test_davx5_all_fields() -> None:
    report, [row] = _read("davx5/allfields-vcard3.vcf")
    values = row.values
    assert (values["company"], values["department"]) == ("ABC, Inc.", "North American Division, Marketing")
    assert values["notes"] == "This fax number is operational 0800 to 1715 EST, Mon-Fri."
    assert (values["street"], values["city"], values["country"]) == ("6544 Battleford Drive", "Raleigh", "US")
    assert values["email"] == "private@example.com" and values["email2"] == "work@example.com"
    not_read = {
        p.field for p in report.problems if p.message.endswith("is not taken as an e-mail address of the contact")
    }
    assert not_read == {"UID", "IMPP", "X-SIP", "RELATED"}
    # "+1-800-MYFAX" is a fax: reported as not a number, never taken as the phone
    assert any(p.field == "fax" and p.value == "+1-800-MYFAX" for p in report.problems)


def test_thunderbird_csv_is_labelled_thunderbird_and_its_columns_read() -> None:
    report, rows = _read("thunderbird/tb_export.csv")
    assert report.format == "thunderbird-en"
    assert rows[1].values["position"] == '"worker"' and rows[1].values["notes"] == "here's some unicode text…"
    unused = next(p.message for p in report.problems if "not read" in p.message)
    assert "Custom 1" in unused and "Primary Email" not in unused and "Work Phone" not in unused
    # "contact1@invalid" has no valid domain: reported, not dropped silently
    assert {p.value for p in report.problems if p.field == "email"} == {"contact1@invalid", "contact2@invalid"}


def test_thunderbird_semicolon_csv() -> None:
    report, rows = _read("thunderbird/csv_semicolon.csv")
    assert report.delimiter == ";" and report.format == "thunderbird-en"
    assert [(r.values["first_name"], r.values["last_name"]) for r in rows] == [("John", "Doe"), ("Jane", "Doe")]


def test_thunderbird_dos_line_ends_and_gmail_without_final_newline() -> None:
    assert _only("thunderbird/dos_vcard_addressbook.vcf")["email"] == "example@gmail.com"
    _report, rows = _read("gmail/gmail-list.vcf")
    assert [row.values["email"] for row in rows] == ["asmithk@gmail.com", "chrisy55d@yahoo.com", "dwhite@gmail.com"]


def test_kde_two_emails_and_mac_address_book() -> None:
    values = _only("kde/vcard13.vcf")
    assert {values["email"], values["email2"]} == {"thejoe@abc.com", "johndoe@abc.com"}
    mac = _only("macos/Martin Smith Mac AddressBook V2_1.vcf")
    assert mac["company"] == "Rocket & Partner" and mac["street"] == "6 Valleydrive" and mac["city"] == "Huntsville"


def test_kde_one_cell_address_in_the_street_component_is_split() -> None:
    _report, rows = _read("kde/vcard10.vcf.ref")
    bike_shop = rows[0].values
    assert bike_shop["company"] == "Bike Shop" and "last_name" not in bike_shop
    assert (bike_shop["street"], bike_shop["postal_code"], bike_shop["city"]) == (
        "DDDDDDDDDDDDDDD-Staße 2",
        "00000",
        "DDDDDDDDDD",
    )
    doctor = rows[3].values
    assert (doctor["title"], doctor["first_name"], doctor["last_name"]) == ("Dr. med.", "Surname", "Name")
    assert doctor["notes"].splitlines()[3] == "Mi 8–12, 14–15"  # folded inside the line, unfolded


def test_evolution_chinese_given_name_only_and_text_in_phone_fields() -> None:
    report, [row] = _read("evolution/eds-5.vcf")
    assert row.values["first_name"] == "十城目管理大型知座" and "last_name" not in row.values
    assert row.values["email"] == "weird@weird.com"
    assert {p.field for p in report.problems if p.severity == "error"} == {"phone", "mobile", "fax"}


def test_evolution_po_box_and_kde_company_card() -> None:
    values = _only("evolution/eds-3.vcf")
    assert values["street"] == "P.O. Box 101" and (values["email"], values["email2"]) == (
        "nat@nat.org",
        "nat@ximian.com",
    )
    ximian = _only("kde/vcard4.vcf.ref")
    assert ximian["company"] == "Ximian, Inc." and ximian["email"] == "hello@ximian.com"
    assert "last_name" not in ximian


def test_windows_contacts_quoted_printable_and_wab_properties() -> None:
    report, [row] = _read("windows-contacts/v2_1.vcf")
    values = row.values
    assert (values["company"], values["department"]) == ("Firma", "Führungsetage")
    assert values["notes"].splitlines()[0] == "Kommentar ÄÄÄÄÄÄ ääääää ÖÖÖÖÖÖ öööööö ÜÜÜÜÜÜ üüüüüü ßßßßßß"
    assert len(values["notes"].splitlines()) == 6
    assert [values["email"], values["email2"], values["email3"]] == [
        "privat@folker-kinzel.de",
        "business@folker-kinzel.de",
        "andere@folker-kinzel.de",
    ]
    # X-WAB-WEDDING_ANNIVERSARY is a property (with an underscore), not a broken line
    assert not [p for p in report.problems if "not a vCard property" in p.message]
    # "Tel geschäftlich" and "Handy" are labels typed into the phone fields: reported, never numbers
    phone_fields = {"phone", "phone2", "mobile"}
    errors = {p.value for p in report.problems if p.field in phone_fields and p.severity == "error"}
    assert errors == {"Tel geschäftlich", "Tel privat", "Handy"}
    # the rest (other phone, pager, home fax) found no field: listed, not dropped
    listed = {p.value for p in report.problems if p.message.startswith("phone number")}
    assert listed == {"Other Phone", "Pager", "Fax privat"}


def test_vcardlib_every_21_type() -> None:
    values = _only("vcardlib/version21.vcf")
    assert (values["first_name"], values["last_name"], values["salutation"]) == ("Forrest", "Gump", "Mr")
    # the preferred work address wins, in the USA
    assert (values["street"], values["city"], values["country"]) == ("100 Waters Edge", "Baytown", "US")
    assert values["email"] == "forrestgump@example.com" and "email2" not in values  # the same address seven times


def test_sogo_cards_without_any_name_are_imported_with_a_derived_name() -> None:
    report, rows = _read("sogo/broken-vcards.vcf")
    assert [row.values["email"] for row in rows] == [
        "test-misses-n-or-fn@example.com",
        "test-misses-n-or-fn@example1.com",
    ]
    assert all(row.name_derived and row.values["last_name"] == "Test Misses N Or Fn" for row in rows)
    assert report.rows_left_out == 0
    _report, rows = _read("sogo/broken-vcards2.vcf")
    assert (rows[0].values["first_name"], rows[0].values["last_name"]) == ("Test", "Example")
    assert not rows[0].name_derived and rows[1].name_derived


def test_belgian_addresses_keep_their_four_digit_postal_codes() -> None:
    report, rows = _read("php-vcard/vcards.vcf")
    assert [(r.values["postal_code"], r.values["city"], r.values["country"]) for r in rows] == [
        ("8000", "Brugge", "BE"),
        ("9000", "Gent", "BE"),
    ]
    assert not [p for p in report.problems if p.field in {"postal_code", "country"}]


def test_vcardlib_fifteen_phone_lines_each_placed_or_listed() -> None:
    report, [row] = _read("vcardlib/v3.vcf")
    assert row.values["phone2"] == "+14045551212"  # (111) is no American area code: phone is reported
    assert {p.field for p in report.problems if p.severity == "error"} == {"phone", "mobile", "fax"}


def test_calcard_quoted_printable_soft_break_inside_the_euro_sign() -> None:
    values = _only("calcard/009_4.vcf")
    assert values["notes"] == "XXXXXXXXXX € ##,##\nXXXXXXXXXX € ##,##"


def test_calcard_fullcontact_export_keeps_three_emails_and_lists_the_rest() -> None:
    report, [row] = _read("calcard/037_0.vcf")
    assert [row.values[f] for f in ("email", "email2", "email3")] == [
        "home@example.com",
        "work@example.com",
        "school@example.com",
    ]
    listed = {p.value for p in report.problems if p.field == "email3"}
    assert listed == {"other@example.com", "custom@example.com"}
    # nine TEL lines: phone, phone2, mobile, fax kept, the other five listed
    assert len([p for p in report.problems if p.message.startswith("phone number")]) == 5
    assert (row.values["company"], row.values["department"], row.values["position"]) == (
        "Organization1",
        "Department1",
        "Title1",
    )


def test_calcard_company_card_and_altid_names() -> None:
    assert _only("calcard/022_0.vcf") == {"company": "ACME Inc."}
    altid = _only("calcard/011_0.vcf")
    assert (altid["first_name"], altid["last_name"]) == ("one", "representation")


def test_a_card_with_nothing_to_name_it_by_is_reported_with_its_reason() -> None:
    report, rows = _read("calcard/063_1.vcf")
    assert rows == [] and report.rows_read == 1 and report.rows_left_out == 1
    [error] = [p for p in report.problems if p.severity == "error"]
    assert error.row == 1 and error.message.startswith("no name")


def test_google_export_fax_named_only_by_its_label() -> None:
    _report, rows = _read("gmail/FolkerKinzel-v3.vcf")
    assert rows[0].values["street"] == "Priorauer Straße 32" and rows[0].values["postal_code"] == "06779"
    # item1.TEL with item1.X-ABLabel:homeFax is a fax, not the phone
    assert rows[1].values["fax"] == "+493443333440" and rows[1].values["phone"] == "+493443303776"
    assert rows[1].values["company"] == "KMS Weißenfels"


def test_a_stray_semicolon_after_an_address_is_not_part_of_it() -> None:
    report, [row] = _read("vcardlib/v2.vcf")
    assert row.values["email"] == "forrestgump@example.com"
    assert not [p for p in report.problems if p.field == "email"]


def test_cardbook_labels_typed_into_phone_fields_are_each_reported() -> None:
    report, rows = _read("cardbook/cardbook-v36.vcf")
    assert rows[0].values["phone"] == "+493444122267" and rows[0].values["fax"] == "+4934441392334"
    max_ = rows[1].values
    assert (max_["title"], max_["first_name"], max_["middle_name"], max_["last_name"], max_["suffix"]) == (
        "Dr.",
        "Max",
        "Horst",
        "Mustermann",
        "jr.",
    )
    # ten TEL lines holding words, not numbers: every one is an error or listed as not kept
    texts = {"Privattelefon", "Diensttelefon", "Fax", "Fax privat", "Fax geschäftlich", "Festnetz", "Mobil"}
    texts |= {"Pager", "sonstige", "ohne"}
    assert {p.value for p in report.problems if p.row == 2 and p.field in {"phone", "phone2", "mobile", "fax"}} == texts
    assert any(p.field == "birthday" and p.value == "19723101" for p in report.problems)


def test_a_contact_group_is_left_out_saying_so() -> None:
    report, rows = _read("calcard/rfc_5.vcf")
    assert rows == [] and report.rows_left_out == 1
    [problem] = report.problems
    assert problem.record_lost and problem.message == "a contact group ('The Doe family'), not a contact: left out"


def test_rfc_6350_torture_card() -> None:
    report, [row] = _read("calcard/rfc_0.vcf")
    values = row.values
    # the first N wins; ORG with an escaped comma; the work e-mail first
    assert (values["last_name"], values["first_name"]) == ("Yamada", "Taro")
    assert (values["company"], values["email"]) == ("ABC, Inc.", "jqpublic@xyz.example.com")
    assert values["birthday"] == "1996-04-15"
    # TYPE="voice,home" with PREF=1 is the home phone and comes first (555 numbers are not valid)
    assert next(p.value for p in report.problems if p.field == "phone") == "+1-555-555-5555;ext=5555"

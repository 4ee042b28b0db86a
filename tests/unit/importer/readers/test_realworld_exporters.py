"""Values read from the exporters added to the real-world collection in its second round.

Roundcube's import samples (Outlook and Thunderbird CSV), The Bat!, a Norwegian shop's and a US
web site's published vCards, macOS, Google, Evolution, khard, the vCard 2.1 and RFC examples.
The collection-wide checks (nothing lost silently) are in test_realworld.py.
"""

from __future__ import annotations

from pathlib import Path

from einklang.importer.incoming import FileReport, IncomingRow, read_file

COLLECTION = Path(__file__).parents[3] / "fixtures" / "realworld"


def _read(relative: str) -> tuple[FileReport, list[IncomingRow]]:
    return read_file(COLLECTION / relative, relative)


def _only(relative: str) -> tuple[FileReport, dict[str, str]]:
    report, rows = _read(relative)
    assert report.error is None and len(rows) == 1, (report.error, rows)
    return report, rows[0].values


def test_thunderbird_csv_from_roundcube_reads_the_work_address_and_both_emails() -> None:
    report, values = _only("roundcube/tb_plain.csv")
    assert (values["first_name"], values["last_name"]) == ("Firstname", "Lastname")
    assert (values["email"], values["email2"]) == ("test@domain.tld", "next@domain.tld")
    assert (values["street"], values["postal_code"], values["city"], values["country"]) == (
        "Addr work",
        "33-333",
        "city",
        "PL",
    )
    assert values["birthday"] == "1970-11-15" and values["company"] == "Organization"
    # the phone cells hold words, not numbers: each is reported, none is dropped unmentioned
    assert {p.field for p in report.problems if p.severity == "error"} == {"phone", "phone2", "mobile", "fax"}


def test_outlook_csv_with_only_email_columns_is_a_contact_named_by_its_address() -> None:
    report, values = _only("roundcube/outlook-csv2vcard.csv")
    assert (values["email"], values["email2"], values["email3"]) == (
        "test1@domain.tld",
        "test2@domain.tld",
        "test3@domain.tld",
    )
    assert values["last_name"] == "Test1"
    assert any("derived from the e-mail address" in p.message for p in report.problems)


def test_roundcube_mixed_header_reads_apple_email_columns_and_a_day_first_birthday() -> None:
    report, values = _only("roundcube/all.csv")
    assert (values["email"], values["email2"], values["email3"]) == (
        "home@example.com",
        "work@example.com",
        "other@example.com",
    )
    assert values["birthday"] == "1991-01-20"
    assert (values["first_name"], values["middle_name"], values["last_name"]) == (
        "First Name",
        "Middle Name",
        "Last Name",
    )
    assert any("column(s) not read" in p.message and "Car Phone" in p.message for p in report.problems)


def test_windows_1252_vcard_21_from_roundcube() -> None:
    _report, values = _only("roundcube/johndoe.vcf")
    assert (values["first_name"], values["last_name"]) == ("John", "Doë")
    # EMAIL;TYPE=pref comes first
    assert (values["email"], values["email2"]) == ("roundcube@gmail.com", "inbox@roundcube.net")
    assert (values["street"], values["city"], values["country"]) == ("The street", "Hometown", "KY")


def test_the_bat_quoted_printable_without_charset_is_read_and_flagged() -> None:
    report, values = _only("thebat/thebat.vcf")
    assert values["first_name"] == "Piotr" and values["email"] == "piotr.iksinski@somedomain.com"
    # =F1 is ñ in Windows-1252 but ń in the Polish code page: the guess is said, not hidden
    assert values["last_name"] == "Iksiñski"
    assert {p.field for p in report.problems if "read as Windows-1252" in p.message} == {"N", "FN"}


def test_a_norwegian_shops_card_is_a_company_with_norwegian_numbers() -> None:
    _report, values = _only("web-vcard/Aspaas Sykler.vcf")
    assert values["company"] == "Aspaas Sykler" and "last_name" not in values
    assert (values["phone"], values["fax"], values["email"]) == ("+4733187525", "+4733183703", "aspaass@online.no")
    assert (values["street"], values["postal_code"], values["city"], values["country"]) == (
        "Nansetgata 74",
        "3269",
        "Larvik",
        "NO",
    )
    assert values["notes"] == "Åpningstider mandag til fredag 9-18; lørdag 9-16"


def test_a_us_web_card_without_country_gets_an_american_number() -> None:
    report, values = _only("web-vcard/Troy Wolf.vcf")
    assert (values["first_name"], values["last_name"], values["email"]) == ("Troy", "Wolf", "troy@troywolf.com")
    assert values["mobile"] == "+18167399653" and values["country"] == "US"
    assert any(p.field == "country" and "'MO'" in p.message for p in report.problems)


def test_macos_company_card_without_a_person() -> None:
    report, values = _only("macos/apple.vcf")
    assert values["company"] == "Apple Computer AG" and "last_name" not in values
    assert (values["street"], values["postal_code"], values["city"], values["country"]) == (
        "Birgistrasse 4a",
        "8304",
        "Wallisellen-Zürich",
        "CH",
    )
    assert report.binary_skipped == 1


def test_google_export_with_every_field_type() -> None:
    report, values = _only("gmail/gmail-single2.vcf")
    assert (values["first_name"], values["last_name"], values["company"]) == ("VCard", "Test", "TheCompany")
    assert (values["email"], values["email2"], values["email3"]) == (
        "email@example.com",
        "homeemail@example.com",
        "workemail@example.com",
    )
    # the work address (ADR;TYPE=WORK); New York state and ZIP make it American
    assert (values["street"], values["postal_code"], values["country"]) == ("113 Main St", "10011", "US")
    # 555 is no American area code: each number says it was read as German instead
    assert values["fax"] == "+495555551118"
    assert any(p.field == "fax" and "not a valid number in US" in p.message for p in report.problems)
    kept_out = {p.value for p in report.problems if "not kept" in p.message}
    assert {"otheremail@example.com", "customcategory@example.com"} <= kept_out


def test_evolution_card_with_an_email_folded_in_the_middle() -> None:
    report, values = _only("evolution/John_Doe_EVOLUTION.vcf")
    assert (values["salutation"], values["first_name"], values["middle_name"], values["last_name"]) == (
        "Mr",
        "John",
        "Richter, James",
        "Doe",
    )
    assert values["email"] == "john.doe@ibm.com"
    assert (values["phone"], values["mobile"]) == ("+19055551234", "+19056661234")
    assert (values["company"], values["department"]) == ("IBM", "Accounting, Dungeon")
    assert any(p.field == "X-AIM" and p.value == "johnny5@aol.com" for p in report.problems)


def test_khard_card_with_every_property_twice() -> None:
    report, values = _only("khard/contact_with_multiple_values.vcf")
    assert (values["title"], values["first_name"], values["last_name"], values["suffix"]) == (
        "Dr.",
        "Mark",
        "Schröder",
        "II",
    )
    assert (values["email"], values["email2"]) == ("mark@example.com", "mark@example.org")
    assert (values["company"], values["department"]) == ("Company1", "Sub-Company1")
    assert values["birthday"] == "1992-12-21"
    # the German-looking numbers are too short to be German: reported, not invented
    assert {p.field for p in report.problems if p.severity == "error"} == {"phone", "phone2", "mobile"}


def test_a_card_cut_off_before_its_end_is_read_and_said_so() -> None:
    report, values = _only("khard/unparsable.vcf")
    assert values["last_name"] == "Vcard"
    assert any("no END:VCARD" in p.message for p in report.problems)


def test_vcard_21_specification_example_address_lands_in_its_fields() -> None:
    report, values = _only("rfc/vcard21_basic.vcf")
    assert (values["first_name"], values["middle_name"], values["last_name"]) == ("John", "M.", "Smith")
    assert (values["street"], values["city"], values["region"], values["postal_code"]) == (
        "1 Central St., Suite 101",
        "Any Town",
        "NC",
        "27654",
    )
    assert (values["phone"], values["fax"]) == ("+19195551234", "+19195559876")
    assert any(p.field == "ADR" for p in report.problems)


def test_an_address_only_in_a_quoted_printable_label() -> None:
    _report, values = _only("rfc/vcard21_qp_label.vcf")
    assert (values["street"], values["city"], values["region"], values["postal_code"]) == (
        "P. O. Box 456, 123 Main Street",
        "Any Town",
        "CA",
        "91921-1234",
    )


def test_rfc_2425_record_in_lowercase_without_version() -> None:
    _report, values = _only("rfc/rfc2425_record3_groups.vcf")
    assert (values["first_name"], values["last_name"], values["email"]) == ("Meister", "Berger", "mb@goerlitz.de")
    assert values["fax"] == "+493581123456" and values["birthday"] == "1963-09-21"


def test_the_rdap_contact_uri_address_is_reported() -> None:
    report, _values = _only("rfc/rfc8605_rdap.vcf")
    assert any(p.field == "CONTACT-URI" and p.value == "contact@example.com" for p in report.problems)


def test_sogo_card_with_only_an_email_and_no_uid() -> None:
    report, rows = _read("sogo/broken-vcards2-no_uid.vcf")
    assert [row.values.get("email") for row in rows] == [
        "test-misses-n-or-fn@example.com",
        "test-misses-n-or-fn@example1.com",
    ]
    assert rows[1].name_derived and report.rows_left_out == 0


def test_phone_export_garbled_org_is_reported_and_the_first_kept() -> None:
    report, values = _only("calcard/029_5.vcf")
    assert values["company"] == "Ñ" * 44 and values["email"] == "henry@company.com"
    assert any(p.field == "ORG" and "garbled" in p.message for p in report.problems)


def test_mixed_case_and_hcard_conversions() -> None:
    _report, values = _only("vcard-validator/scrambled_case.vcf")
    assert (values["salutation"], values["first_name"], values["last_name"]) == ("Mr", "John", "Doe")
    _report, values = _only("vcard-validator/01-tantek-basic.vcf")
    assert (values["first_name"], values["last_name"], values["company"]) == ("Tantek", "Çelik", "Technorati")


def _not_read(report: FileReport) -> set[str]:
    return {p.value or "" for p in report.problems if "is not taken as an e-mail address" in p.message}


def test_em_client_im_addresses_are_reported_not_taken_as_email() -> None:
    report, values = _only("emclient/IM-eMClient.vcf")
    assert (values["first_name"], values["last_name"]) == ("EMClient", "Testkontakt")
    assert not any(key.startswith("email") for key in values)
    assert "jabber@example.com" in _not_read(report) and len(_not_read(report)) == 8


def test_ios_im_entries_old_and_new_style() -> None:
    report, values = _only("ios/IM-iOS.vcf")
    assert (values["first_name"], values["last_name"]) == ("Test", "IosIMKontakt")
    # the IMPP whose service name holds a quoted comma and colon is parsed, its address reported
    assert {"mikeim@example.com", "skype2@example.com", "aim@example.com"} <= _not_read(report)


def test_nextcloud_card_with_html_entities_in_a_parameter_and_empty_values() -> None:
    report, values = _only("nextcloud/IM-Nextcloud.vcf")
    assert values == {"first_name": "Test", "last_name": "Kontakt", "email": "kontakt@example.com"}
    assert len(_not_read(report)) == 12


def test_owncloud_card_with_fn_and_im_only() -> None:
    report, values = _only("owncloud/IM-Owncloud.vcf")
    assert (values["first_name"], values["last_name"]) == ("Owncloud", "IMKontakt")
    assert _not_read(report) == {"irc@example.com", "skype@example.com", "telegram@example.com"}


def test_icloud_cards() -> None:
    _report, values = _only("icloud/XAbLabelAppleBuiltin.vcf")
    assert (values["first_name"], values["last_name"], values["email"]) == ("Max", "Mustermann", "special@maxmu.de")
    _report, values = _only("icloud/LabelPreference.vcf")
    assert (values["email"], values["email2"]) == ("special@maxmu.de", "group_but_not_xablabel@example.com")
    # ORG with an empty organisation: the units are the department, no company is invented
    _report, values = _only("icloud/DepartmentOnly.vcf")
    assert "company" not in values and values["department"] == "Department, SubDep1, SubDep2, SubDep3"
    # X-ABShowAs:COMPANY: FN is the company's display name, not a person
    _report, values = _only("icloud/CompanySetFN.vcf")
    assert values == {"company": "Die Firma"}


def test_icloud_groups_are_left_out_saying_so() -> None:
    for name in ("icloud/Group.vcf", "icloud/kings.vcf", "icloud/facelessmen.vcf"):
        report, rows = _read(name)
        assert rows == [] and report.rows_left_out == 1
        assert any(p.record_lost and "contact group" in p.message for p in report.problems)


def test_icloud_card_with_only_a_phone_is_reported_and_one_with_an_email_named_by_it() -> None:
    report, rows = _read("icloud/EmptyFNPhone.vcf")
    assert rows == [] and any("no name" in p.message for p in report.problems)
    _report, values = _only("icloud/EmptyFNEmail.vcf")
    assert (values["email"], values["last_name"]) == ("special@maxmu.de", "Special")


def test_macos_company_card_with_a_contact_person() -> None:
    _report, values = _only("macos/goldencomp.vcf")
    assert (values["first_name"], values["last_name"], values["company"]) == (
        "Harry",
        "Strickland",
        "The Golden Company",
    )
    assert values["email"] == "golden.company@example.com"


def test_kaddressbook_evolution_and_google_im_cards() -> None:
    report, values = _only("kde/IM-KAddressbook.vcf")
    assert (values["first_name"], values["last_name"]) == ("KAddressbook", "IMKontakt")
    assert "groupwise@example.com" in _not_read(report)
    report, values = _only("evolution/IM-Evolution.vcf")
    assert (values["first_name"], values["last_name"], values["email"]) == ("Hans", "Wurst", "hans@wurst.de")
    assert "hans+groupwise@example.com" in _not_read(report)
    report, values = _only("gmail/IM-GoogleContacts.vcf")
    assert (values["first_name"], values["last_name"]) == ("Google", "IMTestKontakt")
    assert len(_not_read(report)) == 7


def test_nextcloud_server_copies() -> None:
    _report, values = _only("nextcloud/nedstark.vcf")
    assert (values["first_name"], values["last_name"], values["company"], values["department"]) == (
        "Eddard",
        "Stark",
        "The North",
        "Winterfell",
    )
    assert (values["email"], values["email2"]) == ("ned@stark.example.com", "warden_of_the_north@7kingdoms.com")
    _report, values = _only("nextcloud/cersei.vcf")
    assert values["categories"] == "House Baratheon; House Lannister" and values["email"] == "cersei@example.com"


def test_roundcube_carddav_all_attributes() -> None:
    report, values = _only("rcmcarddav/AllAttr.vcf")
    assert (values["title"], values["first_name"], values["last_name"], values["suffix"]) == (
        "Dr.",
        "Albert",
        "Wesker",
        "MSc",
    )
    assert (values["company"], values["department"], values["position"]) == ("Umbrella Corp", "Executive Board", "CEO")
    assert (values["city"], values["country"], values["postal_code"]) == ("Tokyo", "JP", "99887")
    assert (values["email"], values["email2"]) == ("albert@wesker.example.com", "wesker@umbrella.example.com")
    assert {p.field for p in report.problems if p.severity == "error"} == {"phone", "phone2"}

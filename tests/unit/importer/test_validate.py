from einklang.importer import ContactRow, Problem
from einklang.importer.validate import validate_contact


def _row(**fields: str) -> ContactRow:
    return ContactRow(source="kontakte.csv", row=3, line=7, format="generic-csv", fields=fields)


def test_values_are_normalised() -> None:
    values, problems = validate_contact(
        _row(
            first_name=" Hans ",
            last_name="Müller",
            salutation="Hr.",
            street="Hauptstr. 1",
            postal_code="D-10115",
            country="Deutschland",
            phone="030/1234567",
            mobile="0170-1234567",
            email="Hans@Example.DE",
            email2="mailto:hans@example.de",
            birthday="24.12.1970",
            notes="  Zeile 1  \r\n  Zeile 2 ",
            categories="Kunden; Berlin;Kunden",
        )
    )
    assert problems == []
    assert values == {
        "salutation": "Herr",
        "first_name": "Hans",
        "last_name": "Müller",
        "street": "Hauptstraße 1",
        "postal_code": "10115",
        "country": "DE",
        "phone": "+49301234567",
        "mobile": "+491701234567",
        "email": "hans@example.de",
        "birthday": "1970-12-24",
        "notes": "Zeile 1\nZeile 2",
        "categories": "Kunden; Berlin",
    }


def test_invalid_values_are_reported_and_left_out_the_rest_survives() -> None:
    values, problems = validate_contact(
        _row(
            first_name="Anna",
            email="anna@@example.de",
            phone="bitte erfragen",
            country="Atlantis",
            city="Bonn",
        )
    )
    assert values == {"first_name": "Anna", "city": "Bonn"}
    assert {(p.field, p.value, p.severity) for p in problems} == {
        ("email", "anna@@example.de", "error"),
        ("phone", "bitte erfragen", "error"),
        ("country", "Atlantis", "error"),
    }
    assert all(p.source == "kontakte.csv" and p.line == 7 and p.row == 3 for p in problems)
    assert any(str(p).startswith("kontakte.csv:7:phone: not a phone number") for p in problems)


def test_missing_name_is_an_error() -> None:
    _, problems = validate_contact(_row(phone="089 123456"))
    assert [(p.field, p.severity) for p in problems] == [(None, "error")]
    assert str(problems[0]) == "kontakte.csv:7: no name: neither first name, last name, company nor e-mail address"


def test_company_alone_is_a_name() -> None:
    _, problems = validate_contact(_row(company="Beispiel AG"))
    assert problems == []


def test_last_comma_first_in_one_field_is_split() -> None:
    values, problems = validate_contact(_row(last_name="Müller, Dr. Hans"))
    assert (values["title"], values["first_name"], values["last_name"]) == ("Dr.", "Hans", "Müller")
    assert [p.severity for p in problems] == ["warning"]


def test_family_name_with_particle_is_not_split() -> None:
    values, problems = validate_contact(_row(last_name="von der Heide"))
    assert values["last_name"] == "von der Heide" and "first_name" not in values and problems == []


def test_phone_uses_the_contacts_own_country() -> None:
    values, _ = validate_contact(_row(company="X", country="Schweiz", phone="044 123 45 67", postal_code="8001"))
    assert values["phone"] == "+41441234567"
    assert values["postal_code"] == "8001"


def test_lost_leading_zero_is_restored_with_a_warning() -> None:
    values, problems = validate_contact(_row(company="X", postal_code="1067"))
    assert values["postal_code"] == "01067"
    assert [(p.field, p.severity) for p in problems] == [("postal_code", "warning")]


def test_duplicate_emails_collapse() -> None:
    values, _ = validate_contact(_row(company="X", email="a@b.de", email2="A@B.DE", email3="c@d.de"))
    assert (values["email"], values["email2"]) == ("a@b.de", "c@d.de") and "email3" not in values


def test_unknown_birthday_is_a_warning() -> None:
    values, problems = validate_contact(_row(company="X", birthday="im Sommer"))
    assert "birthday" not in values
    assert [(p.field, p.severity) for p in problems] == [("birthday", "warning")]


def test_validation_is_idempotent() -> None:
    row = _row(first_name="Hans", last_name="Müller", street="Hauptstr. 1", phone="030/1234567", country="D")
    once, _ = validate_contact(row)
    twice, problems = validate_contact(_row(**once))
    assert twice == once and problems == []


def test_problem_str_without_line() -> None:
    assert str(Problem("a.csv", None, None, None, None, "kaputt")) == "a.csv: kaputt"


def test_phone_is_read_in_the_addresss_country_first_then_the_default_region() -> None:
    values, problems = validate_contact(_row(last_name="Hansen", country="Norway", phone="22 12 34 56"))
    assert values["phone"] == "+4722123456" and problems == []
    values, problems = validate_contact(_row(last_name="Smith", country="USA", phone="(212) 555-0142"))
    assert values["phone"] == "+12125550142" and problems == []
    # valid only as a German number although the address is American: kept, with a warning
    values, problems = validate_contact(_row(last_name="Smith", country="USA", phone="030 1234567"))
    assert values["phone"] == "+49301234567"
    assert [(p.field, p.severity) for p in problems] == [("phone", "warning")]
    assert "not a valid number in US" in problems[0].message
    # valid in neither: an error naming both
    _values, problems = validate_contact(_row(last_name="Smith", country="USA", phone="12"))
    assert [(p.field, p.severity) for p in problems] == [("phone", "error")]
    assert "read in US and in DE" in problems[0].message


def test_phone_extensions_are_kept() -> None:
    for raw in ("+49 30 1234567;ext=102", "030 1234567 x102", "030 1234567 Durchwahl 102"):
        values, _ = validate_contact(_row(last_name="Weber", phone=raw))
        assert values["phone"] == "+49301234567;ext=102", raw


def test_birthday_with_a_time_and_year_less_birthdays() -> None:
    for raw, expected in (
        ("1980-03-22T00:00:00Z", "1980-03-22"),
        ("19800322T000000", "1980-03-22"),
        ("--0415", "--04-15"),
        ("1604-04-15", "--04-15"),
        ("16040415", "--04-15"),
    ):
        values, problems = validate_contact(_row(last_name="Weber", birthday=raw))
        assert values["birthday"] == expected and problems == [], raw


def test_a_cell_with_several_addresses_is_split_and_what_does_not_fit_is_reported() -> None:
    values, problems = validate_contact(_row(last_name="Weber", email="a@x.de, b@y.de"))
    assert (values["email"], values["email2"]) == ("a@x.de", "b@y.de") and problems == []
    values, problems = validate_contact(_row(last_name="Weber", email="a@x.de; b@y.de", email2="c@z.de d@w.de"))
    assert [values[f] for f in ("email", "email2", "email3")] == ["a@x.de", "b@y.de", "c@z.de"]
    assert [(p.value, p.severity) for p in problems] == [("d@w.de", "warning")]


def test_google_system_groups_are_dropped_user_labels_kept() -> None:
    values, _ = validate_contact(_row(last_name="Weber", categories="* myContacts ::: Kunden ::: My Contacts; Friends"))
    assert values["categories"] == "Kunden; Friends"


def test_a_contact_with_only_an_email_gets_a_derived_name() -> None:
    values, problems = validate_contact(_row(email="Hans Müller <h.mueller@example.de>"))
    assert values["last_name"] == "Hans Müller" and values["email"] == "h.mueller@example.de"
    assert [(p.field, p.severity) for p in problems] == [("last_name", "warning")]
    values, _ = validate_contact(_row(email="anna-lena.schmidt@example.de"))
    assert values["last_name"] == "Anna Lena Schmidt"
    # company and phone: the company is the name, nothing derived
    values, problems = validate_contact(_row(company="Adler GmbH", phone="030 1234567"))
    assert "last_name" not in values and problems == []


def test_a_postal_code_of_an_unknown_country_is_kept_as_written() -> None:
    values, problems = validate_contact(_row(last_name="Peeters", postal_code="8000", country="Belgien-Nord"))
    assert values["postal_code"] == "8000"
    assert [(p.field, p.severity) for p in problems] == [("country", "error")]
    values, _ = validate_contact(_row(last_name="Peeters", postal_code="8000", country="België"))
    assert (values["country"], values["postal_code"]) == ("BE", "8000")


def test_a_us_address_without_country_reads_its_numbers_as_american() -> None:
    # as a US web site's vCard has it: state and ZIP code, no country line
    values, problems = validate_contact(
        _row(last_name="Wolf", city="Kansas City", region="MO", postal_code="64118", mobile="(816) 739-9653")
    )
    assert values["country"] == "US" and values["mobile"] == "+18167399653"
    assert [(p.field, p.severity) for p in problems] == [("country", "warning")]
    assert "'MO'" in problems[0].message and "'64118'" in problems[0].message


def test_a_german_address_without_country_stays_german() -> None:
    values, problems = validate_contact(
        _row(last_name="Huber", city="München", region="Bayern", postal_code="80331", phone="089 1234567")
    )
    assert problems == []
    assert "country" not in values and values["phone"] == "+49891234567"

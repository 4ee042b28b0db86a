"""The readers against the hand-written fixture files (see tests/fixtures/contacts/make_fixtures.py)."""

from pathlib import Path

import pytest

from einklang.importer import ContactRow, Problem, read_contacts
from einklang.importer.readers.csv_reader import UNUSED_COLUMNS_MESSAGE
from einklang.importer.validate import validate_contact

FIXTURES = Path(__file__).parents[2] / "fixtures" / "contacts"


def _is_unused_columns_note(item: object) -> bool:
    return isinstance(item, Problem) and item.severity == "warning" and UNUSED_COLUMNS_MESSAGE in item.message


def _rows(name: str, **options: object) -> list[ContactRow]:
    items = list(read_contacts(FIXTURES / name, source_name=name, **options))  # type: ignore[arg-type]
    items = [item for item in items if not _is_unused_columns_note(item)]
    assert all(isinstance(item, ContactRow) for item in items), [str(i) for i in items]
    return [item for item in items if isinstance(item, ContactRow)]


@pytest.mark.parametrize("name", ["outlook_de_cp1252_semicolon.csv", "outlook_de_utf8_bom_sep.csv"])
def test_outlook_de(name: str) -> None:
    rows = _rows(name)
    assert [row.row for row in rows] == [1, 2, 3, 4, 5]
    assert {row.format for row in rows} == {"outlook-de"}
    first = rows[0]
    assert first.source == name
    assert first.fields["salutation"] == "Herr"
    assert first.fields["title"] == "Dr."
    assert first.fields["last_name"] == "Müller"
    assert first.fields["street"] == "Hauptstr. 12a"  # business address preferred over home
    assert first.fields["city"] == "Berlin"
    assert "€" in first.fields["notes"] and "\n" in first.fields["notes"]
    assert "birthday" not in first.fields  # Outlook's "0.0.00" means no date
    # The multi-line note spans 3 physical lines, so the next record starts 3 lines later.
    offset = 1 if "sep" in name else 0
    assert [row.line for row in rows] == [2 + offset, 5 + offset, 6 + offset, 7 + offset, 8 + offset]
    assert rows[1].fields["street"] == "Am Markt 3-5"  # home address used when no business address
    assert rows[4].fields["email"] == "klaus.schmidt@beispiel-ag.de"  # EX entry: SMTP from display name


def test_outlook_de_planted_problems_are_reported_by_line_and_field() -> None:
    name = "outlook_de_cp1252_semicolon.csv"
    problems = [str(p) for row in _rows(name) for p in validate_contact(row)[1] if p.severity == "error"]
    assert any(p.startswith(f"{name}:5:email:") for p in problems)
    assert any(p.startswith(f"{name}:6:phone:") for p in problems)
    assert any(p.startswith(f"{name}:7:") and "no name" in p for p in problems)
    assert len(problems) == 3


def test_outlook_en() -> None:
    rows = _rows("outlook_en_utf8.csv")
    assert {row.format for row in rows} == {"outlook-en"}
    smith, koehler, meier = rows
    assert smith.fields["salutation"] == "Mr"
    assert smith.fields["suffix"] == "Jr."
    assert koehler.fields["title"] == "Prof. Dr."
    assert koehler.fields["street"] == "Straße des 17. Juni 135, Gebäude MAR"
    assert meier.fields["city"] == "Hamburg"
    values, problems = validate_contact(smith)
    assert values["country"] == "GB"
    assert values["email2"] == "john@smith-family.org"
    assert problems == []


def test_outlook_com() -> None:
    sabine, lukas = _rows("outlook_com.csv")
    assert sabine.format == "outlook-com"
    assert sabine.fields["company"] == "Schulz Consulting UG (haftungsbeschränkt)"
    assert sabine.fields["notes"] == "Zweite Zeile\nder Notiz"
    assert (sabine.line, lukas.line, lukas.row) == (2, 4, 2)
    assert lukas.fields["postal_code"] == "04109"


def test_google_classic() -> None:
    wagner, fischer = _rows("google.csv")
    assert wagner.format == "google"
    assert wagner.fields["email"] == "stefan.wagner@wagner-schrauben.de"  # "* Work" is primary
    assert wagner.fields["email2"] == "stefan@wagner-privat.de"
    assert (wagner.fields["phone"], wagner.fields["phone2"]) == ("0711 1234567", "0711 1234568")  # " ::: "
    assert wagner.fields["mobile"] == "0160 1234567"
    assert wagner.fields["company"] == "Wagner Schrauben GmbH"
    assert wagner.fields["categories"] == "Lieferanten"
    assert fischer.fields["street"] == "Rheinstraße 3"  # from the formatted address only
    assert fischer.line == 5


def test_google_new() -> None:
    (hoffmann,) = _rows("google_new.csv")
    assert hoffmann.format == "google"
    assert hoffmann.fields["title"] == "Dr."
    assert hoffmann.fields["fax"] == "+49 40 1234568"
    assert hoffmann.fields["categories"] == "Ärzte"


def test_vcard21_quoted_printable() -> None:
    juergen, bjoern = _rows("vcard21.vcf")
    assert juergen.format == "vcard-2.1"
    assert juergen.fields["last_name"] == "Müller"
    assert juergen.fields["position"] == "Geschäftsführer"
    assert juergen.fields["street"] == "Hauptstraße 12a"
    assert juergen.fields["notes"].endswith("Fortsetzung, die umbrochen wurde.")  # soft line break
    assert juergen.fields["phone"] == "+49 (0)30 1234567"
    assert juergen.fields["fax"] == "030 1234568"
    assert bjoern.fields["first_name"] == "Björn"  # CHARSET=WINDOWS-1252
    assert (juergen.line, bjoern.line, bjoern.row) == (1, 15, 2)


def test_vcard30() -> None:
    anna, erika, company = _rows("vcard30.vcf")
    assert anna.format == "vcard-3.0"
    assert anna.fields["last_name"] == "von der Heide"
    assert anna.fields["title"] == "Prof. Dr."
    assert anna.fields["street"] == "Vogt-Kölln-Straße 30"  # work address preferred
    assert anna.fields["notes"] == (
        "Sprechstunde Di 10-12 Uhr, Raum F-123.\nBitte vorher anmelden; danke. Diese Zeile ist gefaltet."
    )
    assert anna.fields["categories"] == "Universität; Kooperation"
    assert erika.fields["last_name"] == "Dr. Erika Mustermann"  # FN only; validation splits it
    values, _ = validate_contact(erika)
    assert (values["title"], values["first_name"], values["last_name"]) == ("Dr.", "Erika", "Mustermann")
    assert "last_name" not in company.fields  # FN = ORG: a company, not a person
    _, problems = validate_contact(company)
    assert {p.field for p in problems} == {"phone", "email"}


def test_vcard40() -> None:
    hans, lea = _rows("vcard40.vcf")
    assert hans.format == "vcard-4.0"
    assert hans.fields["phone"] == "+49-711-1234567"
    assert hans.fields["mobile"] == "+49-172-7654321"
    assert hans.fields["salutation"] == "Herr"
    assert hans.fields["street"] == "Rotebühlstraße 5"
    assert hans.fields["notes"].endswith("langjährige Zusammenarbeit.")
    values, problems = validate_contact(lea)
    assert values["country"] == "FR" and values["phone"] == "+33142603030" and problems == []


def test_generic_canonical_headers() -> None:
    rows = _rows("generic.csv")
    assert {row.format for row in rows} == {"generic-csv"}
    values, problems = validate_contact(rows[1])
    assert (values["first_name"], values["last_name"]) == ("Thomas", "Schäfer")
    assert [p.severity for p in problems] == ["warning"]
    _, problems = validate_contact(rows[3])
    assert [str(p) for p in problems] == ["generic.csv:5:country: unknown country: 'Atlantis'"]


def test_generic_with_mapping() -> None:
    mapping = {"Kundenname": "company", "Ansprechpartner": "last_name", "Tel": "phone", "Mail": "email"}
    schmitt, krause = _rows("generic_mapped.csv", mapping=mapping)
    assert schmitt.fields["company"] == "Bäckerei Schmitt e.K."
    assert schmitt.fields["street"] == "Hauptstrasse 5"  # "Strasse"/"PLZ"/"Ort" found by alias
    values, _ = validate_contact(krause)
    assert (values["first_name"], values["last_name"], values["postal_code"]) == ("Ute", "Krause", "99084")


def test_utf16_tab_separated() -> None:
    rows = _rows("generic_utf16_tab.txt")
    assert len(rows) == 4
    assert rows[2].fields["first_name"] == "Zoë"


def test_every_fixture_reads_without_reader_problems() -> None:
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix in {".csv", ".vcf", ".txt"}:
            items = [item for item in read_contacts(path) if not _is_unused_columns_note(item)]
            assert items and not any(isinstance(item, Problem) for item in items), path.name

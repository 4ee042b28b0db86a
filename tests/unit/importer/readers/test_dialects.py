"""CSV dialects of the real world: Thunderbird (en/de), Apple, German variants, damaged headers.

Each file is built byte by byte here (encodings and damaged headers are the point) with the
headers the exporters write; the values read are checked, not just the count.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from einklang.importer.incoming import read_file
from einklang.importer.readers import ContactRow, Problem, open_contacts, read_contacts
from einklang.importer.readers.assemble import split_one_cell_address

THUNDERBIRD_EN = (
    "First Name,Last Name,Display Name,Nickname,Primary Email,Secondary Email,Screen Name,Work Phone,"
    "Home Phone,Fax Number,Pager Number,Mobile Number,Home Address,Home Address 2,Home City,Home State,"
    "Home ZipCode,Home Country,Work Address,Work Address 2,Work City,Work State,Work ZipCode,Work Country,"
    "Job Title,Department,Organization,Web Page 1,Web Page 2,Birth Year,Birth Month,Birth Day,"
    "Custom 1,Custom 2,Custom 3,Custom 4,Notes\r\n"
)
THUNDERBIRD_DE = (
    "Vorname,Nachname,Anzeigename,Spitzname,Primäre E-Mail-Adresse,Sekundäre E-Mail-Adresse,Messenger-Name,"
    "Tel. dienstlich,Tel. privat,Fax-Nummer,Pager-Nummer,Mobil-Tel.-Nr.,Privat: Adresse,Privat: Adresse 2,"
    "Privat: Ort,Privat: Bundesland,Privat: PLZ,Privat: Land,Dienstlich: Adresse,Dienstlich: Adresse 2,"
    "Dienstlich: Ort,Dienstlich: Bundesland,Dienstlich: PLZ,Dienstlich: Land,Arbeitstitel,Abteilung,"
    "Organisation,Webseite 1,Webseite 2,Geburtsjahr,Geburtsmonat,Geburtstag,Benutzerdef. 1,"
    "Benutzerdef. 2,Benutzerdef. 3,Benutzerdef. 4,Notizen\r\n"
)


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _rows_and_problems(path: Path) -> tuple[list[ContactRow], list[Problem]]:
    items = list(read_contacts(path))
    return [i for i in items if isinstance(i, ContactRow)], [i for i in items if isinstance(i, Problem)]


def test_thunderbird_english_every_column_read(tmp_path: Path) -> None:
    row = (
        "Ada,Lovelace,Ada Lovelace,,ada@example.org,ada.l@example.net,,+44 20 7946 0018,,+44 20 7946 0019,,"
        "+44 7700 900123,,,,,,,10 Downing St,,London,,SW1A 2AA,United Kingdom,Analyst,R&D,Engines Ltd,"
        "https://ada.example.org,,1815,12,10,,,,,Notes here\r\n"
    )
    info, items = open_contacts(_write(tmp_path, "tb.csv", THUNDERBIRD_EN + row))
    [contact] = [i for i in items if isinstance(i, ContactRow)]
    assert contact.format == "thunderbird-en" and info.delimiter == ","
    assert contact.fields == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Engines Ltd",
        "department": "R&D",
        "position": "Analyst",
        "street": "10 Downing St",
        "postal_code": "SW1A 2AA",
        "city": "London",
        "country": "United Kingdom",
        "phone": "+44 20 7946 0018",
        "mobile": "+44 7700 900123",
        "fax": "+44 20 7946 0019",
        "email": "ada@example.org",
        "email2": "ada.l@example.net",
        "website": "https://ada.example.org",
        "birthday": "1815-12-10",
        "notes": "Notes here",
    }


def test_thunderbird_german_and_a_birthday_without_year(tmp_path: Path) -> None:
    row = (
        "Jörg,Weiß,Jörg Weiß,,joerg@example.de,,,0221 123456,,,,0171 2345678,Hauptstr. 5,,Köln,NRW,50667,"
        "Deutschland,,,,,,,,,,,,,4,15,,,,,\r\n"
    )
    [contact], problems = _rows_and_problems(_write(tmp_path, "tb_de.csv", THUNDERBIRD_DE + row))
    assert contact.format == "thunderbird-de"
    assert contact.fields["email"] == "joerg@example.de"
    assert (contact.fields["street"], contact.fields["postal_code"], contact.fields["city"]) == (
        "Hauptstr. 5",
        "50667",
        "Köln",
    )
    assert contact.fields["phone"] == "0221 123456" and contact.fields["mobile"] == "0171 2345678"
    assert contact.fields["birthday"] == "--04-15"  # Geburtsmonat 4, Geburtstag 15, no year
    [unused] = [p for p in problems if "not read" in p.message]
    assert "Spitzname" in unused.message and "Geburtstag" not in unused.message


def test_apple_style_csv_and_german_variants(tmp_path: Path) -> None:
    text = (
        "First,Last,Email Home,Email Work,Home Mobile,Arbeit E-Mail,zipcode,Ort\r\n"
        "Tim,Koch,tim@home.example,tim@work.example,+49 171 1111111,koch@arbeit.example,10115,Berlin\r\n"
    )
    [contact], problems = _rows_and_problems(_write(tmp_path, "apple.csv", text))
    assert contact.format == "apple-csv"
    assert contact.fields["email"] == "tim@home.example" and contact.fields["email2"] == "tim@work.example"
    assert contact.fields["email3"] == "koch@arbeit.example"
    assert contact.fields["mobile"] == "+49 171 1111111"
    assert (contact.fields["postal_code"], contact.fields["city"]) == ("10115", "Berlin")
    # "First"/"Last" are no known names: reported, not silently dropped
    [unused] = [p for p in problems if "not read" in p.message]
    assert "First" in unused.message and "Last" in unused.message


def test_outlook_header_damaged_by_a_wrong_code_page(tmp_path: Path) -> None:
    header = "Vorname;Nachname;Firma;Stra\ufffde gesch\ufffdftlich;Ort gesch\ufffdftlich;Postleitzahl gesch\ufffdftlich"
    mojibake = ";StraÃŸe privat;E-Mail-Adresse\r\n"
    row = "Eva;Schulz;Muster AG;Königsallee 1;Düsseldorf;40212;Am Hang 2;eva@muster.example\r\n"
    [contact], _ = _rows_and_problems(_write(tmp_path, "damaged.csv", header + mojibake + row))
    assert contact.format == "outlook-de"
    assert (contact.fields["street"], contact.fields["city"], contact.fields["postal_code"]) == (
        "Königsallee 1",
        "Düsseldorf",
        "40212",
    )
    assert contact.fields["email"] == "eva@muster.example"


def test_one_cell_addresses_are_split(tmp_path: Path) -> None:
    text = 'Name;Business Address\r\nMeier;"Hauptstr. 1\n12345 Berlin\nGermany"\r\nKurz;"Ring 2, 80331 München"\r\n'
    rows, _ = _rows_and_problems(_write(tmp_path, "one_cell.csv", text))
    assert [(r.fields["street"], r.fields["postal_code"], r.fields["city"]) for r in rows] == [
        ("Hauptstr. 1", "12345", "Berlin"),
        ("Ring 2", "80331", "München"),
    ]
    assert rows[0].fields["country"] == "Germany"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["Hauptstr. 1, 12345 Berlin"], {"street": "Hauptstr. 1", "postal_code": "12345", "city": "Berlin"}),
        (
            ["1 Main St, New York, NY 10001"],
            {"street": "1 Main St", "city": "New York", "region": "NY", "postal_code": "10001"},
        ),
        (["Karl-Marx-Allee 3"], {"street": "Karl-Marx-Allee 3"}),
        (
            ["Postweg 4", "A-1010 Wien", "Österreich"],
            {"street": "Postweg 4", "postal_code": "1010", "city": "Wien", "country": "Österreich"},
        ),
    ],
)
def test_split_one_cell_address(lines: list[str], expected: dict[str, str]) -> None:
    assert split_one_cell_address(lines) == expected


def test_an_unread_column_that_holds_addresses_is_an_error(tmp_path: Path) -> None:
    text = "Nachname;Vorname;Kontakt 2\r\nMüller;Hans;hans.privat@example.de\r\n"
    report, rows = read_file(_write(tmp_path, "odd.csv", text), "odd.csv")
    assert rows[0].values == {"first_name": "Hans", "last_name": "Müller"}
    [error] = [p for p in report.problems if p.severity == "error"]
    assert error.field == "Kontakt 2" and "holds e-mail addresses in 1 record(s)" in error.message
    assert report.errors == 1


def test_thunderbird_file_is_not_labelled_outlook(tmp_path: Path) -> None:
    # "Job Title" and "Mobile Number"-like columns are Outlook's too; Thunderbird's own names decide.
    text = "First Name,Last Name,Primary Email,Job Title\r\nA,B,a@b.example,Boss\r\n"
    [contact], _ = _rows_and_problems(_write(tmp_path, "t.csv", text))
    assert contact.format == "thunderbird-en" and contact.fields["position"] == "Boss"


def test_inspect_counts_records_not_warnings(tmp_path: Path) -> None:
    lines = "".join(f"Hans{i};Müller;bitte anrufen\r\n" for i in range(3))
    path = _write(tmp_path, "c.csv", "Vorname;Nachname;Telefon\r\n" + lines + "nur;zwei;drei;vier\r\n")
    report, rows = read_file(path, "c.csv")
    # 3 phone errors and 1 record that could not be read: 4 records, not 7
    assert (report.rows_read, report.rows_usable, report.rows_left_out) == (4, 3, 1)
    assert report.error_count == 4 and len(rows) == 3

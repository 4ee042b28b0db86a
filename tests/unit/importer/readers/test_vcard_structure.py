"""vCard structures that put values in the wrong field unless read with care.

A short ADR whose last part is the postal code, an address given only as LABEL, a company's card
with the company in N's family slot.  Built byte by byte; the values read are checked.
"""

from __future__ import annotations

from pathlib import Path

from einklang.importer.incoming import read_file


def _read(tmp_path: Path, *lines: str) -> tuple[dict[str, str], list[tuple[str | None, str]]]:
    path = tmp_path / "c.vcf"
    path.write_bytes(("\r\n".join(["BEGIN:VCARD", *lines, "END:VCARD"]) + "\r\n").encode())
    report, [row] = read_file(path, "c.vcf")
    return row.values, [(p.field, p.message) for p in report.problems]


def test_a_short_adr_ending_in_a_postal_code_is_moved_into_place(tmp_path: Path) -> None:
    # the vCard 2.1 specification's own example leaves out the PO box and the country
    values, problems = _read(
        tmp_path, "VERSION:2.1", "N:Smith;John", "ADR;WORK;PARCEL;POSTAL;DOM:Suite 101;1 Central St.;Any Town;NC;27654"
    )
    assert (values["street"], values["city"], values["region"], values["postal_code"]) == (
        "1 Central St., Suite 101",
        "Any Town",
        "NC",
        "27654",
    )
    assert any(field == "ADR" and "5 of its 7 parts" in message for field, message in problems)


def test_a_short_adr_with_its_leading_empty_parts_keeps_them(tmp_path: Path) -> None:
    # PO box and extended written empty, the region left out: the postal code moves, nothing else
    values, problems = _read(tmp_path, "VERSION:3.0", "FN:Eva Berg", "N:Berg;Eva", "ADR:;;Hauptstr. 1;Berlin;10115")
    assert (values["street"], values["city"], values["postal_code"]) == ("Hauptstraße 1", "Berlin", "10115")
    assert "region" not in values
    assert any(field == "ADR" for field, _message in problems)


def test_a_short_adr_without_a_postal_code_at_its_end_is_padded_silently(tmp_path: Path) -> None:
    values, problems = _read(tmp_path, "VERSION:3.0", "N:Berg;Eva", "ADR:;;Hauptstr. 1;Berlin")
    assert (values["street"], values["city"]) == ("Hauptstraße 1", "Berlin")
    assert not any(field == "ADR" for field, _message in problems)


def test_an_address_only_in_label_is_read_and_said_so(tmp_path: Path) -> None:
    values, problems = _read(
        tmp_path,
        "VERSION:2.1",
        "N:Berg;Eva",
        "LABEL;WORK;ENCODING=QUOTED-PRINTABLE:Hauptstr. 1=0D=0A=",
        "10115 Berlin",
    )
    assert (values["street"], values["postal_code"], values["city"]) == ("Hauptstraße 1", "10115", "Berlin")
    assert any(field == "LABEL" and "no ADR" in message for field, message in problems)


def test_a_label_beside_an_adr_is_not_read_twice(tmp_path: Path) -> None:
    values, problems = _read(
        tmp_path, "VERSION:3.0", "N:Berg;Eva", "ADR:;;Hauptstr. 1;Berlin;;10115;", "LABEL:Ringstr. 9\\n20095 Hamburg"
    )
    assert (values["street"], values["city"]) == ("Hauptstraße 1", "Berlin")
    assert not any(field == "LABEL" for field, _message in problems)


def test_a_company_card_with_the_company_as_family_name_has_no_person_name(tmp_path: Path) -> None:
    values, _problems = _read(tmp_path, "VERSION:3.0", "N:Aspaas Sykler;;;;", "FN:Aspaas Sykler", "ORG:Aspaas Sykler")
    assert values["company"] == "Aspaas Sykler"
    assert "last_name" not in values and "first_name" not in values


def test_a_person_at_a_company_keeps_the_name(tmp_path: Path) -> None:
    values, _problems = _read(tmp_path, "VERSION:3.0", "N:Sykler;Aspaas;;;", "ORG:Aspaas Sykler")
    assert (values["first_name"], values["last_name"], values["company"]) == ("Aspaas", "Sykler", "Aspaas Sykler")


def test_an_apple_company_card_shows_fn_for_the_company_not_a_person(tmp_path: Path) -> None:
    values, _problems = _read(
        tmp_path, "VERSION:3.0", "N:;;;;", "FN:The Company", "ORG:Die Firma;", "X-ABShowAs:COMPANY"
    )
    assert values == {"company": "Die Firma"}
    values, _problems = _read(tmp_path, "VERSION:3.0", "FN:Apple Inc.", "X-ABShowAs:COMPANY")
    assert values == {"company": "Apple Inc."}
    # a contact person in N is still read
    values, _problems = _read(
        tmp_path, "VERSION:3.0", "N:Berg;Eva", "FN:Firma Berg", "ORG:Firma Berg", "X-ABShowAs:COMPANY"
    )
    assert (values["first_name"], values["last_name"], values["company"]) == ("Eva", "Berg", "Firma Berg")


def test_org_is_positional_an_empty_organisation_makes_no_company(tmp_path: Path) -> None:
    values, _problems = _read(tmp_path, "VERSION:3.0", "N:Berg;Eva", "ORG:;Vertrieb;Innendienst")
    assert "company" not in values and values["department"] == "Vertrieb, Innendienst"
    values, _problems = _read(tmp_path, "VERSION:3.0", "N:Berg;Eva", "ORG:Muster GmbH;;Innendienst")
    assert (values["company"], values["department"]) == ("Muster GmbH", "Innendienst")

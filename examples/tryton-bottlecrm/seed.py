"""Seed data for the Tryton <-> BottleCRM scenario (deterministic, no I/O except write_exports).

- :func:`customers`: about 200 German customers (companies with a customer number, a main
  address, a phone number and an e-mail address), as Tryton parties would hold them.
- :func:`write_exports`: two employees' Outlook exports (German headers in Windows-1252 with
  ``;``, English headers in UTF-8 with ``,``) with contacts of some of those customers. They
  overlap: the same person in both files (once with umlauts written as ae/oe/ue), a typo, a
  person who is already in the CRM (typed in by hand), one with an old e-mail address, a person
  of a company that is not a customer yet, and one row without a usable name.
- :data:`CRM_HAND_TYPED`: contacts that a CRM user typed in by hand before the import.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STEMS = [
    "Brandt",
    "Adler",
    "Nordlicht",
    "Alpen",
    "Rhein",
    "Elbe",
    "Sonnen",
    "Kraft",
    "Feld",
    "Berg",
    "Weiß",
    "Lindner",
    "Engel",
    "Vogt",
    "Haas",
    "Kühn",
    "Seidel",
    "Franke",
    "Ludwig",
    "Winter",
    "Sommer",
    "Busch",
    "Müller",
    "Schröder",
    "Krüger",
    "Hoffmann",
    "Schäfer",
    "Wagner",
    "Becker",
]
TRADES = [
    "Metallbau",
    "Elektrotechnik",
    "Haustechnik",
    "Logistik",
    "Druckerei",
    "Bäckerei",
    "Holzbau",
    "Maschinenbau",
    "Software",
    "Steuerberatung",
    "Autohaus",
    "Gartenbau",
    "Dachdeckerei",
    "Kunststofftechnik",
    "Feinmechanik",
    "Sanitär",
]
LEGAL_FORMS = ["GmbH", "GmbH & Co. KG", "AG", "KG", "e.K.", "OHG", "GmbH"]
STREETS = [
    "Hauptstraße",
    "Bahnhofstraße",
    "Industriestraße",
    "Gartenweg",
    "Am Markt",
    "Lindenallee",
    "Schillerstraße",
    "Goethestraße",
    "Mühlenweg",
    "Kirchplatz",
    "Hafenstraße",
    "Ringstraße",
]
# postal code, city, area code (without the leading 0)
CITIES = [
    ("10115", "Berlin", "30"),
    ("20095", "Hamburg", "40"),
    ("80331", "München", "89"),
    ("50667", "Köln", "221"),
    ("60311", "Frankfurt am Main", "69"),
    ("70173", "Stuttgart", "711"),
    ("40213", "Düsseldorf", "211"),
    ("04109", "Leipzig", "341"),
    ("01067", "Dresden", "351"),
    ("28195", "Bremen", "421"),
    ("30159", "Hannover", "511"),
    ("90402", "Nürnberg", "911"),
    ("24103", "Kiel", "431"),
    ("18055", "Rostock", "381"),
    ("99084", "Erfurt", "361"),
]
AUSTRIA = [("1010", "Wien", "1"), ("5020", "Salzburg", "662")]
_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def ascii_fold(text: str) -> str:
    return text.translate(_ASCII)


@dataclass(frozen=True)
class Customer:
    number: str  # the ERP's customer number (Tryton party code)
    name: str
    street: str
    postal_code: str
    city: str
    country: str  # ISO code, as Tryton's country.country holds it
    phone: str | None
    email: str | None

    @property
    def domain(self) -> str:
        return str(self.email).split("@", 1)[1] if self.email else "example.de"

    def tryton_values(self, country_ids: dict[str, int]) -> dict[str, Any]:
        """``party.party.create`` values: party, main address and contact mechanisms."""
        mechanisms = [{"type": "email", "value": self.email}] if self.email else []
        if self.phone:
            mechanisms.append({"type": "phone", "value": self.phone})
        return {
            "name": self.name,
            "code": self.number,
            "addresses": [
                [
                    "create",
                    [
                        {
                            "street_unstructured": self.street,
                            "postal_code": self.postal_code,
                            "city": self.city,
                            "country": country_ids[self.country],
                        }
                    ],
                ]
            ],
            "contact_mechanisms": [["create", mechanisms]],
        }


def customers(count: int = 200, seed: int = 42) -> list[Customer]:
    """``count`` plausible German customers (a few in Austria); names and e-mails are unique."""
    rng = random.Random(seed)
    result: list[Customer] = []
    names: set[str] = set()
    for i in range(count):
        while True:
            stem, trade = rng.choice(STEMS), rng.choice(TRADES)
            name = f"{stem} {trade} {rng.choice(LEGAL_FORMS)}"
            if name not in names:
                names.add(name)
                break
        if rng.random() < 0.04:
            postal_code, city, area = rng.choice(AUSTRIA)
            country, prefix = "AT", "+43"
        else:
            postal_code, city, area = rng.choice(CITIES)
            country, prefix = "DE", "+49"
        local = rng.randint(100000, 9999999)
        # the way people type phone numbers in an ERP: national, with slashes, international
        phone: str | None = rng.choice([f"0{area} {local}", f"0{area}/{local}", f"{prefix} {area} {local}"])
        if country != "DE":
            phone = f"{prefix} {area} {local}"  # foreign numbers are kept international
        if rng.random() < 0.08:
            phone = None
        domain = ascii_fold(f"{stem}-{trade}").lower().replace(" ", "-")
        email = f"{rng.choice(['info', 'kontakt', 'office', 'vertrieb'])}@{domain}-{i + 1}.de"
        street = f"{rng.choice(STREETS)} {rng.randint(1, 180)}{rng.choice(['', '', '', 'a', 'b'])}"
        result.append(Customer(f"K{10001 + i}", name, street, postal_code, city, country, phone, email))
    return result


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    customer: int | None  # index into customers(); None: a company that is no customer yet
    position: str
    local_part: str  # e-mail local part; the domain is the company's
    phone: str
    mobile: str = ""


# Contacts at six customers (indexes into customers()), and one at a new company.
PEOPLE = [
    Person("Jürgen", "Müller", 3, "Geschäftsführer", "juergen.mueller", "+49 221 471100", "0171 2345678"),
    Person("Sabine", "Weiß", 3, "Einkauf", "s.weiss", "+49 221 471123"),
    Person("Dörte", "Schäfer", 11, "Buchhaltung", "doerte.schaefer", "030 5551200"),
    Person("Björn", "Krüger", 11, "Technik", "bjoern.krueger", "030 5551210", "0160 1112223"),
    Person("Katrin", "Hoffmann", 27, "Projektleitung", "k.hoffmann", "089 1234567", "0151 44455566"),
    Person("Petra", "Lehmann", 42, "Assistenz der Geschäftsführung", "petra.lehmann", "0711 987650"),
    Person("Uwe", "Schröder", 42, "Einkauf", "uwe.schroeder", "0711 9876512", "0175 3334445"),
    Person("Lena", "Fischer", 58, "Marketing", "lena.fischer", "040 334455", "0157 77788899"),
    Person("Jonas", "Becker", None, "Entwicklung", "jonas.becker", "040 999100", "0176 55566677"),
]
# (no generated customer is called like this: BottleCRM refuses a second account of the same name)
NEW_COMPANY = ("Speicherstadt Kaffeerösterei GmbH", "Speicherstadt 5", "20457", "Hamburg", "speicherstadt-kaffee.de")

# file: (dialect, encoding, delimiter, rows as (person index, variation))
EXPORTS: dict[str, tuple[str, str, str, list[tuple[int, str]]]] = {
    "anna_becker_outlook.csv": ("de", "cp1252", ";", [(0, ""), (1, ""), (2, ""), (4, ""), (7, ""), (8, "")]),
    "joerg_krause_outlook.csv": (
        "en",
        "utf-8",
        ",",
        [(0, "ascii"), (3, ""), (4, "typo"), (5, ""), (6, ""), (8, "ascii"), (1, "no_name")],
    ),
}
# Typed into the CRM by hand before the import: Katrin Hoffmann exactly (without e-mail), and
# Lena Fischer with her old private e-mail address.
CRM_HAND_TYPED: list[tuple[int, dict[str, str | None]]] = [
    (4, {"email": None}),
    (7, {"email": "lena.fischer@gmx.de"}),
]

DE_HEADER = [
    "Anrede",
    "Vorname",
    "Nachname",
    "Firma",
    "Position",
    "Straße geschäftlich",
    "Ort geschäftlich",
    "Postleitzahl geschäftlich",
    "Land/Region geschäftlich",
    "Telefon geschäftlich",
    "Mobiltelefon",
    "E-Mail-Adresse",
    "E-Mail-Typ",
    "Notizen",
]
EN_HEADER = [
    "Title",
    "First Name",
    "Last Name",
    "Company",
    "Job Title",
    "Business Street",
    "Business City",
    "Business Postal Code",
    "Business Country/Region",
    "Business Phone",
    "Mobile Phone",
    "E-mail Address",
    "E-mail Type",
    "Notes",
]
COUNTRY_NAMES = {"DE": "Deutschland", "AT": "Österreich"}


def person_values(person: Person, all_customers: list[Customer]) -> dict[str, str]:
    if person.customer is None:
        company, street, postal_code, city, domain = NEW_COMPANY
        country = "DE"
    else:
        c = all_customers[person.customer]
        company, street, postal_code, city, domain, country = (
            c.name,
            c.street,
            c.postal_code,
            c.city,
            c.domain,
            c.country,
        )
    return {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "company": company,
        "position": person.position,
        "street": street,
        "postal_code": postal_code,
        "city": city,
        "country": country,
        "phone": person.phone,
        "mobile": person.mobile,
        "email": f"{person.local_part}@{domain}",
    }


def _vary(values: dict[str, str], variation: str) -> dict[str, str]:
    changed = dict(values)
    if variation == "ascii":
        for key in ("first_name", "last_name", "company", "street", "city"):
            changed[key] = ascii_fold(changed[key])
    elif variation == "typo":
        changed["first_name"] = changed["first_name"] + changed["first_name"][-1]  # Katrinn
        changed["mobile"] = ""
    elif variation == "no_name":
        changed.update({"first_name": "", "last_name": "", "company": "", "email": ""})
    return changed


def write_exports(directory: Path, all_customers: list[Customer]) -> list[Path]:
    """Write the Outlook exports; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (dialect, encoding, delimiter, rows) in EXPORTS.items():
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(DE_HEADER if dialect == "de" else EN_HEADER)
        for index, variation in rows:
            person = PEOPLE[index]
            values = _vary(person_values(person, all_customers), variation)
            salutation = "Herr" if person.first_name in ("Jürgen", "Björn", "Uwe", "Jonas") else "Frau"
            country = COUNTRY_NAMES[values["country"]] if dialect == "de" else values["country"]
            writer.writerow(
                [
                    salutation,
                    values["first_name"],
                    values["last_name"],
                    values["company"],
                    values["position"],
                    values["street"],
                    values["city"],
                    values["postal_code"],
                    country,
                    values["phone"],
                    values["mobile"],
                    values["email"],
                    "SMTP",
                    "",
                ]
            )
        path = directory / name
        path.write_bytes(buffer.getvalue().encode(encoding))
        paths.append(path)
    return paths


def hand_typed_contacts(all_customers: list[Customer]) -> list[tuple[Customer, dict[str, Any]]]:
    """The CRM contacts typed in by hand: (their company, BottleCRM contact fields)."""
    result = []
    for index, overrides in CRM_HAND_TYPED:
        person = PEOPLE[index]
        values = person_values(person, all_customers)
        values.update(overrides)
        assert person.customer is not None
        result.append(
            (
                all_customers[person.customer],
                {
                    "first_name": values["first_name"],
                    "last_name": values["last_name"],
                    "email": values["email"] or "",
                    "phone": values["phone"],
                    "title": values["position"],
                    "organization": values["company"],
                    "address_line": values["street"],
                    "postcode": values["postal_code"],
                    "city": values["city"],
                    "country": values["country"],
                },
            )
        )
    return result

"""Plausible German master data for the demo (deterministic, no I/O)."""

from __future__ import annotations

import random
from dataclasses import dataclass

UMLAUT_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": "-"})

FIRST_NAMES = [
    "Anna",
    "Thomas",
    "Jürgen",
    "Sabine",
    "Michael",
    "Katrin",
    "Stefan",
    "Monika",
    "Andreas",
    "Petra",
    "Frank",
    "Claudia",
    "Markus",
    "Birgit",
    "Klaus",
    "Susanne",
    "Wolfgang",
    "Ute",
    "Matthias",
    "Heike",
    "Jörg",
    "Gabriele",
    "Uwe",
    "Renate",
    "Björn",
    "Sören",
    "Dörte",
    "Günther",
    "Lena",
    "Jonas",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Meier",
    "Lehmann",
]
COMPANY_STEMS = [
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
]
COMPANY_TRADES = [
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
]
LEGAL_FORMS = ["GmbH", "GmbH & Co. KG", "AG", "KG", "e.K.", "OHG", "UG (haftungsbeschränkt)", "GmbH"]
STREETS = [
    "Hauptstraße",
    "Bahnhofstr.",
    "Industriestraße",
    "Gartenweg",
    "Am Markt",
    "Lindenallee",
    "Schillerstraße",
    "Goethestr.",
    "Mühlenweg",
    "Kirchplatz",
    "Hafenstraße",
    "Ringstraße",
    "Friedrichstraße",
    "Berliner Allee",
]
CITIES = [
    ("10115", "Berlin", "030"),
    ("20095", "Hamburg", "040"),
    ("80331", "München", "089"),
    ("50667", "Köln", "0221"),
    ("60311", "Frankfurt am Main", "069"),
    ("70173", "Stuttgart", "0711"),
    ("40213", "Düsseldorf", "0211"),
    ("04109", "Leipzig", "0341"),
    ("01067", "Dresden", "0351"),
    ("28195", "Bremen", "0421"),
    ("30159", "Hannover", "0511"),
    ("90402", "Nürnberg", "0911"),
    ("24103", "Kiel", "0431"),
    ("18055", "Rostock", "0381"),
    ("99084", "Erfurt", "0361"),
]
FOREIGN = [("1010", "Wien", "Österreich", "+43 1 5"), ("8001", "Zürich", "Schweiz", "+41 44 2")]
PRODUCT_GROUPS = [
    ("WG10", "Schrauben und Muttern"),
    ("WG20", "Werkzeuge"),
    ("WG30", "Elektromaterial"),
    ("WG40", "Arbeitsschutz"),
    ("WG50", "Befestigungstechnik"),
]
PRODUCT_NAMES = {
    "WG10": ["Sechskantschraube M8x40", "Mutter M8 verzinkt", "Unterlegscheibe 8,4 mm", "Holzschraube 4x40"],
    "WG20": ["Akkuschrauber 18 V", "Schlüsselsatz 12-tlg.", "Wasserwaage 80 cm", "Cuttermesser"],
    "WG30": ["Kabel NYM-J 3x1,5 (50 m)", "Steckdose Aufputz", "LED-Strahler 30 W", "Verteilerdose"],
    "WG40": ["Schutzbrille klar", "Arbeitshandschuhe Gr. 10", "Gehörschutz", "Sicherheitsschuhe S3"],
    "WG50": ["Dübel 8 mm (100 Stk.)", "Kabelbinder 200 mm", "Montageschiene 1 m", "Winkelverbinder"],
}
DEPARTMENTS = ["Vertrieb", "Einkauf", "Buchhaltung", "Lager", "Geschäftsführung", "IT", "Service"]


@dataclass(frozen=True)
class Customer:
    number: str
    name1: str
    name2: str | None
    street: str
    postal_code: str
    city: str
    country: str
    phone: str | None
    email: str | None


def customers(count: int = 300, seed: int = 7) -> list[Customer]:
    rng = random.Random(seed)
    result = []
    used_names: set[str] = set()
    for i in range(count):
        while True:
            stem = rng.choice(COMPANY_STEMS + LAST_NAMES)
            trade = rng.choice(COMPANY_TRADES)
            name1 = f"{stem} {trade} {rng.choice(LEGAL_FORMS)}"
            if name1 not in used_names:
                used_names.add(name1)
                break
        name2 = rng.choice([None, None, None, "Niederlassung Nord", "Zentrale", "Werk II"])
        street = f"{rng.choice(STREETS)} {rng.randint(1, 180)}{rng.choice(['', '', '', 'a', 'b'])}"
        phone: str | None
        if rng.random() < 0.05:
            postal_code, city, country, prefix = rng.choice(FOREIGN)
            phone = f"{prefix}{rng.randint(100000, 999999)}"
        else:
            postal_code, city, prefix = rng.choice(CITIES)
            country = rng.choice(["Deutschland"] * 8 + ["DE", "Germany"])
            phone = rng.choice(
                [
                    f"{prefix} {rng.randint(100000, 9999999)}",
                    f"{prefix}/{rng.randint(100000, 9999999)}",
                    f"+49 {prefix[1:]} {rng.randint(100000, 9999999)}",
                    f"+49 (0){prefix[1:]} {rng.randint(1000, 99999)}-{rng.randint(0, 99)}",
                ]
            )
        domain = f"{stem}-{trade[:6]}".lower().translate(UMLAUT_ASCII)
        email = rng.choice(["info", "kontakt", "office", "vertrieb"]) + f"@{domain}.de"
        if rng.random() < 0.1:
            phone = None
        result.append(Customer(f"K{10001 + i}", name1, name2, street, postal_code, city, country, phone, email))
    # planted problems the load reports without losing the record
    if count > 20:
        c = result[13]
        result[13] = Customer(
            c.number,
            c.name1,
            c.name2,
            c.street,
            c.postal_code,
            c.city,
            c.country,
            c.phone,
            "buchhaltung(at)example",
        )
        c = result[17]
        result[17] = Customer(c.number, c.name1, c.name2, c.street, c.postal_code, c.city, c.country, "12", c.email)
    return result


@dataclass(frozen=True)
class Product:
    number: str
    name: str
    group: str
    price: str
    description: str


def products(seed: int = 11) -> list[Product]:
    rng = random.Random(seed)
    result: list[Product] = []
    for group, names in PRODUCT_NAMES.items():
        for name in names:
            result.append(
                Product(
                    f"A{len(result) + 1000}",
                    name,
                    group,
                    f"{rng.randint(1, 400)}.{rng.randint(0, 99):02d}",
                    f"{name}: Markenqualität, ab Lager lieferbar",
                )
            )
    return result


@dataclass(frozen=True)
class Employee:
    number: str
    first_name: str
    last_name: str
    email: str
    department: str
    phone: str
    position: str


POSITIONS = ["Sachbearbeiter/in", "Teamleiter/in", "Referent/in", "Assistenz"]


def employees(count: int = 50, seed: int = 5) -> list[Employee]:
    rng = random.Random(seed)
    result = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().translate(UMLAUT_ASCII)
        department = rng.choice(DEPARTMENTS)
        result.append(
            Employee(
                f"P{100 + i}",
                first,
                last,
                f"{local}{i}@demo-handel.de",
                department,
                f"0331 2345-{100 + i}",
                rng.choice(POSITIONS),
            )
        )
    return result

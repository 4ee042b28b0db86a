"""Synthetic German contact lists with known duplicates and hard negatives.

Each real person ("entity") yields one clean record; some yield further records with the noise
real exports have: umlaut spellings (Müller/Mueller/Muller), typing errors, confusable surnames
(Schmidt/Schmitt, Meier/Mayer), swapped first and last names, abbreviated first names (T.),
phone formats, street abbreviations, legal-form variants, missing fields.

Copies also show the pairs a matcher easily misses: a second e-mail address (email2) that
another copy holds in the first slot, a business address with no postal code, a copy with the
company's other mail domain or the person's private address instead of the business one.

Hard negatives are built in on purpose: colleagues with the same surname at one company address
sharing the switchboard number and a surname-only mailbox (mueller@firma.de), relatives at one
home address sharing a landline (Daniel and Daniela), and namesakes (same full name) elsewhere.

The ``hard`` profile has more of what makes matching hard: more and larger colleague groups
sharing a company mailbox and switchboard, more copies without an e-mail address or postal
code, and more typing errors.

Usage: python bench/data/german_contacts.py N [--seed S] [--hard] > contacts.jsonl
Deterministic for a given N and seed. Every record has ``id`` and ``entity`` (the truth).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MALE = [
    "Thomas",
    "Michael",
    "Andreas",
    "Stefan",
    "Christian",
    "Peter",
    "Klaus",
    "Wolfgang",
    "Jürgen",
    "Uwe",
    "Frank",
    "Bernd",
    "Markus",
    "Matthias",
    "Alexander",
    "Martin",
    "Hans",
    "Dieter",
    "Sebastian",
    "Tobias",
    "Jan",
    "Daniel",
    "Florian",
    "Lukas",
    "Jonas",
    "Felix",
    "Maximilian",
    "Paul",
    "Günter",
    "Jörg",
    "Björn",
    "Sören",
    "Ralf",
    "Holger",
    "Torsten",
    "Dirk",
    "Sven",
    "Jens",
    "Oliver",
    "Marco",
    "Kai",
    "Timo",
    "Nils",
    "Fabian",
    "Philipp",
]
FEMALE = [
    "Anna",
    "Maria",
    "Sabine",
    "Petra",
    "Claudia",
    "Susanne",
    "Andrea",
    "Birgit",
    "Monika",
    "Ursula",
    "Karin",
    "Gabriele",
    "Julia",
    "Katharina",
    "Laura",
    "Lena",
    "Lea",
    "Sarah",
    "Lisa",
    "Hannah",
    "Sophie",
    "Marie",
    "Jana",
    "Daniela",
    "Christiane",
    "Nicole",
    "Stefanie",
    "Jessica",
    "Sandra",
    "Jürgen",
    "Käthe",
    "Jördis",
    "Gülay",
    "Brigitte",
    "Renate",
    "Heike",
    "Anja",
    "Silke",
    "Tanja",
    "Ines",
    "Doris",
    "Bärbel",
    "Jutta",
    "Elke",
    "Martina",
]
FEMALE.remove("Jürgen")
LAST = [
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
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Schubert",
    "Vogel",
    "Friedrich",
    "Keller",
    "Günther",
    "Frank",
    "Berger",
    "Winkler",
    "Roth",
    "Beck",
    "Lorenz",
    "Baumann",
    "Franke",
    "Albrecht",
    "Schuster",
    "Simon",
    "Ludwig",
    "Böhm",
    "Winter",
    "Kraus",
    "Martin",
    "Schumacher",
    "Krämer",
    "Vogt",
    "Stein",
    "Jäger",
    "Otto",
    "Sommer",
    "Groß",
    "Seidel",
    "Heinrich",
    "Brandt",
    "Haas",
    "Schreiber",
    "Graf",
    "Schulte",
    "Dietrich",
    "Ziegler",
    "Kuhn",
    "Kühn",
    "Pohl",
    "Engel",
    "Horn",
    "Busch",
    "Bergmann",
    "Thomas",
    "Voigt",
    "Sauer",
    "Arnold",
    "Wolff",
    "Pfeiffer",
    "Özdemir",
    "Yılmaz",
]
CONFUSABLE = {
    "Schmidt": ["Schmitt", "Schmid"],
    "Schmitt": ["Schmidt"],
    "Meier": ["Meyer", "Maier"],
    "Meyer": ["Meier", "Mayer"],
    "Maier": ["Meier", "Mayer"],
    "Mayer": ["Meyer", "Maier"],
    "Hoffmann": ["Hofmann"],
    "Hofmann": ["Hoffmann"],
    "Wolf": ["Wolff"],
    "Wolff": ["Wolf"],
    "Kühn": ["Kuhn"],
    "Schulz": ["Schultz"],
    "Fischer": ["Fischer"],
}
STREETS = [
    "Hauptstraße",
    "Bahnhofstraße",
    "Gartenstraße",
    "Schulstraße",
    "Dorfstraße",
    "Bergstraße",
    "Lindenstraße",
    "Kirchstraße",
    "Waldstraße",
    "Ringstraße",
    "Friedrichstraße",
    "Goethestraße",
    "Schillerstraße",
    "Am",
    "Markt",
    "Mühlenweg",
    "Birkenweg",
    "Rosenweg",
    "Industriestraße",
    "Königsallee",
    "Marktplatz",
    "Kastanienallee",
    "Münchner",
    "Straße",
    "Jahnstraße",
    "Brückenstraße",
]
STREETS = [
    s for s in " ".join(STREETS).replace("Am Markt", "Am_Markt").replace("Münchner Straße", "Münchner_Straße").split()
]
STREETS = [s.replace("_", " ") for s in STREETS]
CITIES = [
    ("Berlin", "10", "30"),
    ("Hamburg", "20", "40"),
    ("München", "80", "89"),
    ("Köln", "50", "221"),
    ("Frankfurt am Main", "60", "69"),
    ("Stuttgart", "70", "711"),
    ("Düsseldorf", "40", "211"),
    ("Leipzig", "04", "341"),
    ("Dortmund", "44", "231"),
    ("Essen", "45", "201"),
    ("Bremen", "28", "421"),
    ("Dresden", "01", "351"),
    ("Hannover", "30", "511"),
    ("Nürnberg", "90", "911"),
    ("Duisburg", "47", "203"),
    ("Bochum", "44", "234"),
    ("Wuppertal", "42", "202"),
    ("Bielefeld", "33", "521"),
    ("Bonn", "53", "228"),
    ("Münster", "48", "251"),
    ("Mannheim", "68", "621"),
    ("Karlsruhe", "76", "721"),
    ("Augsburg", "86", "821"),
    ("Wiesbaden", "65", "611"),
    ("Mönchengladbach", "41", "2161"),
    ("Gelsenkirchen", "45", "209"),
    ("Braunschweig", "38", "531"),
    ("Kiel", "24", "431"),
    ("Chemnitz", "09", "371"),
    ("Aachen", "52", "241"),
    ("Halle (Saale)", "06", "345"),
    ("Magdeburg", "39", "391"),
    ("Freiburg im Breisgau", "79", "761"),
    ("Krefeld", "47", "2151"),
    ("Lübeck", "23", "451"),
    ("Oberhausen", "46", "208"),
    ("Erfurt", "99", "361"),
    ("Mainz", "55", "6131"),
    ("Rostock", "18", "381"),
    ("Kassel", "34", "561"),
    ("Saarbrücken", "66", "681"),
    ("Würzburg", "97", "931"),
    ("Göttingen", "37", "551"),
    ("Regensburg", "93", "941"),
    ("Ulm", "89", "731"),
]
COMPANY_WORDS = [
    "Muster",
    "Nord",
    "Süd",
    "Alpen",
    "Rhein",
    "Elbe",
    "Hansa",
    "Technik",
    "Bau",
    "Logistik",
    "Software",
    "Maschinen",
    "Handel",
    "Service",
    "Medien",
    "Energie",
    "Consulting",
    "Metall",
    "Holz",
    "Glas",
    "Druck",
    "Feinkost",
    "Optik",
    "Elektro",
    "Garten",
    "Möbel",
    "Reisen",
    "Versand",
    "Solar",
    "Daten",
]
LEGAL_FORMS = ["GmbH", "AG", "KG", "GmbH & Co. KG", "UG (haftungsbeschränkt)", "e.K.", "OHG", "SE"]
LEGAL_LONG = {"GmbH": "Gesellschaft mit beschränkter Haftung", "AG": "Aktiengesellschaft"}
FREEMAIL = ["web.de", "gmx.de", "t-online.de", "gmail.com", "posteo.de", "outlook.de"]
MOBILE_PREFIXES = [
    "151",
    "152",
    "157",
    "160",
    "162",
    "163",
    "170",
    "171",
    "172",
    "173",
    "175",
    "176",
    "177",
    "179",
]
UMLAUTS = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
UMLAUT_PLAIN = {"ä": "a", "ö": "o", "ü": "u", "Ä": "A", "Ö": "O", "Ü": "U", "ß": "ss"}
KEYBOARD_NEIGHBOURS = {
    "a": "sq",
    "e": "wr",
    "i": "uo",
    "o": "ip",
    "u": "zi",
    "n": "bm",
    "m": "n",
    "r": "et",
    "t": "rz",
    "s": "ad",
    "l": "k",
    "h": "gj",
    "c": "xv",
    "k": "jl",
    "d": "sf",
    "g": "fh",
    "b": "vn",
    "z": "tu",
}


@dataclass(frozen=True)
class Profile:
    """How often each kind of noise and each hard negative occurs."""

    colleague_groups: float = 0.06
    colleague_group_size: tuple[int, int] = (2, 3)
    typo: float = 0.12
    missing: dict[str, float] = field(
        default_factory=lambda: {
            "email": 0.2,
            "phone": 0.2,
            "mobile": 0.25,
            "street": 0.05,
            "company": 0.1,
            "title": 0.5,
            "postal_code": 0.08,
        }
    )
    second_email: float = 0.25
    swap_emails: float = 0.4
    other_mail_domain: float = 0.1


NORMAL = Profile()
HARD = Profile(
    colleague_groups=0.15,
    colleague_group_size=(2, 5),
    typo=0.25,
    missing={
        "email": 0.45,
        "phone": 0.3,
        "mobile": 0.35,
        "street": 0.08,
        "company": 0.15,
        "title": 0.5,
        "postal_code": 0.2,
    },
)


@dataclass
class Company:
    name: str
    domain: str
    street: str
    postal_code: str
    city: str
    area_code: str
    switchboard: str


def _ascii(text: str) -> str:
    return "".join(UMLAUTS.get(ch, ch) for ch in text).lower().replace(" ", "").replace(".", "")


def _phone_parts(rng: random.Random, area: str) -> tuple[str, str]:
    return area, str(rng.randint(100_000, 9_999_999))


def _format_phone(rng: random.Random, area: str, number: str) -> str:
    style = rng.randrange(6)
    if style == 0:
        return f"0{area} {number}"
    if style == 1:
        return f"+49 {area} {number}"
    if style == 2:
        return f"(0{area}) {number[:3]} {number[3:]}"
    if style == 3:
        return f"0{area}/{number}"
    if style == 4:
        return f"+49 (0) {area} {number}"
    return f"0{area}-{number}"


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    position = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:  # transposition
        chars = list(word)
        chars[position], chars[position + 1] = chars[position + 1], chars[position]
        return "".join(chars)
    if kind == 1:  # deletion
        return word[:position] + word[position + 1 :]
    if kind == 2:  # doubled letter
        return word[:position] + word[position] + word[position:]
    neighbour = KEYBOARD_NEIGHBOURS.get(word[position].lower())
    if not neighbour:
        return word[:position] + word[position + 1 :]
    return word[:position] + rng.choice(neighbour) + word[position + 1 :]


def _umlaut_variant(rng: random.Random, word: str) -> str:
    if not any(ch in UMLAUTS for ch in word):
        return word
    table = UMLAUTS if rng.random() < 0.7 else UMLAUT_PLAIN
    return "".join(table.get(ch, ch) for ch in word)


def _street_variant(rng: random.Random, street: str) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        return street.replace("straße", "str.").replace("Straße", "Str.")
    if choice == 1:
        return street.replace("straße", "strasse").replace("Straße", "Strasse")
    if choice == 2:
        return street.replace("straße", "str").replace(" ", "  ")
    return street


class Generator:
    def __init__(self, seed: int, profile: Profile = NORMAL) -> None:
        self.rng = random.Random(seed)
        self.profile = profile
        self.next_id = 0
        self.next_entity = 0
        self.used_phones: set[str] = set()
        self.email_owner: dict[str, int] = {}

    def _make_email_unique(self, record: dict[str, Any], slot: str = "email") -> None:
        """An address belongs to one person (or one shared mailbox group): never to two strangers."""
        address = record.get(slot)
        if not address:
            return
        key = address.lower()
        owner = self.email_owner.setdefault(key, record.get("mailbox_group", record["entity"]))
        if owner == record.get("mailbox_group", record["entity"]):
            return
        local, domain = address.split("@")
        record[slot] = f"{local}{self.rng.randint(100, 999)}@{domain}"
        self._make_email_unique(record, slot)

    def _unique_number(self) -> str:
        while True:
            number = str(self.rng.randint(1_000_000, 9_999_999))
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def _address(self) -> tuple[str, str, str, str]:
        city, prefix, area = self.rng.choice(CITIES)
        postal = prefix + f"{self.rng.randint(0, 999):03d}"
        street = f"{self.rng.choice(STREETS)} {self.rng.randint(1, 180)}{self.rng.choice(['', '', '', '', 'a', 'b'])}"
        return street, postal, city, area

    def company(self) -> Company:
        rng = self.rng
        words = rng.sample(COMPANY_WORDS, 2)
        base = f"{words[0]} {words[1]}" if rng.random() < 0.5 else f"{rng.choice(LAST)} {words[0]}"
        name = f"{base} {rng.choice(LEGAL_FORMS)}"
        street, postal, city, area = self._address()
        return Company(
            name,
            _ascii(base) + rng.choice([".de", ".com", "-online.de"]),
            street,
            postal,
            city,
            area,
            self._unique_number(),
        )

    def person(
        self,
        company: Company | None,
        last: str | None = None,
        female: bool | None = None,
        first: str | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        female = rng.random() < 0.5 if female is None else female
        first = first or rng.choice(FEMALE if female else MALE)
        last = last or rng.choice(LAST)
        mobile = None
        if rng.random() < 0.6:
            prefix = rng.choice(MOBILE_PREFIXES)
            # 015x numbers have eight digits after the prefix, the others seven (else they are invalid).
            mobile = f"0{prefix} {self._unique_number()}{rng.randrange(10) if prefix.startswith('15') else ''}"
        entity = self.next_entity
        self.next_entity += 1
        if company is not None:
            email = rng.choice(
                [
                    f"{_ascii(first)}.{_ascii(last)}@{company.domain}",
                    f"{_ascii(first)[0]}.{_ascii(last)}@{company.domain}",
                    f"{_ascii(first)}{_ascii(last)}@{company.domain}",
                ]
            )
            phone = (
                f"0{company.area_code} {company.switchboard}-{rng.randint(10, 99)}"
                if rng.random() < 0.5
                else f"0{company.area_code} {company.switchboard}"
            )
            private = (
                f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99)}@{rng.choice(FREEMAIL)}"
                if rng.random() < self.profile.second_email
                else None
            )
            return {
                "entity": entity,
                "first_name": first,
                "last_name": last,
                "company": company.name,
                "street": company.street,
                "postal_code": company.postal_code,
                "city": company.city,
                "country": "DE",
                "phone": phone,
                "mobile": mobile,
                "email": email,
                "email2": private,
                "title": None,
            }
        street, postal, city, area = self._address()
        email = f"{_ascii(first)}.{_ascii(last)}{rng.choice(['', '', str(rng.randint(1, 99))])}@{rng.choice(FREEMAIL)}"
        return {
            "entity": entity,
            "first_name": first,
            "last_name": last,
            "company": None,
            "street": street,
            "postal_code": postal,
            "city": city,
            "country": "DE",
            "phone": f"0{area} {self._unique_number()}" if rng.random() < 0.6 else None,
            "mobile": mobile,
            "email": email,
            "email2": None,
            "title": rng.choice([None] * 8 + ["Dr.", "Prof. Dr."]),
        }

    def noisy_copy(self, record: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        copy = dict(record)
        changes = 0
        if rng.random() < 0.35:
            copy["last_name"] = _umlaut_variant(rng, copy["last_name"])
            copy["first_name"] = _umlaut_variant(rng, copy["first_name"])
            copy["city"] = _umlaut_variant(rng, copy["city"])
        typo = self.profile.typo
        if rng.random() < typo and copy["last_name"] in CONFUSABLE:
            copy["last_name"] = rng.choice(CONFUSABLE[copy["last_name"]])
            changes += 1
        elif rng.random() < typo:
            copy["last_name"] = _typo(rng, copy["last_name"])
            changes += 1
        if rng.random() < typo:
            copy["first_name"] = _typo(rng, copy["first_name"])
            changes += 1
        if rng.random() < 0.08:
            copy["first_name"] = copy["first_name"][0] + "."
        if rng.random() < 0.04:
            copy["first_name"], copy["last_name"] = copy["last_name"], copy["first_name"]
        if rng.random() < 0.1:
            copy["first_name"], copy["last_name"] = None, f"{copy['last_name']}, {copy['first_name']}"
        copy["street"] = _street_variant(rng, copy["street"])
        for phone_field in ("phone", "mobile"):
            value = copy[phone_field]
            if value and rng.random() < 0.7:
                digits = "".join(ch for ch in value.split("-")[0] if ch.isdigit())
                extension = "-" + value.split("-")[1] if "-" in value else ""
                copy[phone_field] = _format_phone(rng, digits[1:-7], digits[-7:]) + extension
        if copy["company"] and rng.random() < 0.4:
            name: str = copy["company"]
            form = next((form for form in sorted(LEGAL_FORMS, key=len, reverse=True) if name.endswith(" " + form)), "")
            base = name[: len(name) - len(form)].strip()
            choice = rng.randrange(3)
            if choice == 0:
                copy["company"] = base
            elif choice == 1 and form in LEGAL_LONG:
                copy["company"] = f"{base} {LEGAL_LONG[form]}"
            else:
                copy["company"] = f"{base} {rng.choice(LEGAL_FORMS)}"
        if copy.get("email2") and rng.random() < self.profile.swap_emails:
            copy["email"], copy["email2"] = copy["email2"], copy["email"]
        elif copy["company"] and copy["email"] and rng.random() < self.profile.other_mail_domain:
            # The company's other domain (a group or a rename): same person, other mail domain.
            local, domain = copy["email"].split("@")
            copy["email"] = f"{local}@{domain.split('.')[0]}-gruppe.de"
        for missing_field, chance in self.profile.missing.items():
            if rng.random() < chance:
                copy[missing_field] = None
        if rng.random() < 0.1:
            copy["email"] = copy["email"].upper() if copy["email"] else None
        if copy.get("email2") is None:
            copy.pop("email2", None)
        if changes > 1 and rng.random() < 0.5:
            return self.noisy_copy(record)
        return copy

    def records(self, count: int) -> Iterator[dict[str, Any]]:
        rng = self.rng
        companies = [self.company() for _ in range(max(3, count // 40))]
        produced = 0
        while produced < count:
            batch: list[dict[str, Any]] = []
            roll = rng.random()
            # colleagues sharing surname, address, switchboard and a surname-only mailbox
            if roll < self.profile.colleague_groups:
                company = rng.choice(companies)
                last = rng.choice(LAST)
                mailbox = f"{_ascii(last)}@{company.domain}"
                size = rng.randint(*self.profile.colleague_group_size)
                people = [self.person(company, last=last) for _ in range(size)]
                firsts = set()
                for person in people:
                    while person["first_name"] in firsts:
                        person["first_name"] = rng.choice(MALE + FEMALE)
                    firsts.add(person["first_name"])
                    person["phone"] = f"0{company.area_code} {company.switchboard}"
                    person["email"] = mailbox
                    person["mailbox_group"] = -1 - people[0]["entity"]
                    person["mobile"] = None
                    person["email2"] = None
                batch.extend(people)
            elif roll < self.profile.colleague_groups + 0.03:
                # relatives at one home address with one landline: Daniel and Daniela
                pair = rng.choice(
                    [
                        ("Daniel", "Daniela"),
                        ("Jan", "Jana"),
                        ("Christian", "Christiane"),
                        ("Paul", "Paula"),
                        ("Mario", "Maria"),
                        ("Stefan", "Stefanie"),
                    ]
                )
                first = self.person(None, first=pair[0])
                second = dict(
                    first,
                    entity=self.next_entity,
                    first_name=pair[1],
                    email=first["email"].replace(_ascii(pair[0]), _ascii(pair[1]), 1),
                    mobile=None,
                    title=None,
                )
                self.next_entity += 1
                batch.extend([first, second])
            elif roll < self.profile.colleague_groups + 0.07:
                # namesakes: same full name, other city, other numbers and mail
                first = self.person(rng.choice(companies) if rng.random() < 0.5 else None)
                other = self.person(None, last=first["last_name"], first=first["first_name"])
                # An e-mail address belongs to one person: a namesake's differs at least by a number.
                while other["email"] == first["email"] or other["email"].split("@")[0] == first["email"].split("@")[0]:
                    local, domain = other["email"].split("@")
                    other["email"] = f"{local}{rng.randint(1, 99)}@{domain}"
                batch.extend([first, other])
            else:
                company = rng.choice(companies) if rng.random() < 0.6 else None
                batch.append(self.person(company))
            for record in batch:
                self._make_email_unique(record)
                self._make_email_unique(record, "email2")
            for record in list(batch):
                if rng.random() < 0.35:
                    for _ in range(rng.choice([1, 1, 1, 2])):
                        batch.append(self.noisy_copy(record))
            for record in batch:
                record.pop("mailbox_group", None)
                if record.get("email2") is None:
                    record.pop("email2", None)
                if produced >= count:
                    return
                record["id"] = f"r{self.next_id}"
                self.next_id += 1
                produced += 1
                yield record


def generate(count: int, seed: int = 7, hard: bool = False) -> list[dict[str, Any]]:
    return list(Generator(seed, HARD if hard else NORMAL).records(count))


def true_pairs(records: list[dict[str, Any]]) -> set[frozenset[str]]:
    by_entity: dict[int, list[str]] = {}
    for record in records:
        by_entity.setdefault(record["entity"], []).append(record["id"])
    pairs: set[frozenset[str]] = set()
    for ids in by_entity.values():
        for index, first in enumerate(ids):
            for second in ids[index + 1 :]:
                pairs.add(frozenset((first, second)))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hard", action="store_true", help="the hard profile (see the module text)")
    arguments = parser.parse_args()
    for record in Generator(arguments.seed, HARD if arguments.hard else NORMAL).records(arguments.count):
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

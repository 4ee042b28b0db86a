"""Column headers of contact CSV files: alias table, header normalisation, dialect detection.

Columns are always mapped by NAME, never by position: German and English Outlook sort the tail of
their column lists differently, and Outlook versions spell some headers differently.

A header maps to a *slot*.  Most slots are canonical field names; the others keep what the file
distinguishes so that :mod:`einklang.importer.readers.assemble` can choose among them, e.g.
``business.street`` vs ``home.street`` or ``prefix`` (Outlook's "Anrede"/"Title", which holds
"Herr" as well as "Dr.").
"""

from __future__ import annotations

import re
import unicodedata

from einklang.importer.readers.model import CONTACT_FIELDS, ContactFormat

_ADDRESS_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "business": {
        "street": ("Straße geschäftlich", "Geschäftlich Straße", "Business Street", "Work Street"),
        "street2": ("Straße geschäftlich 2", "Business Street 2"),
        "street3": ("Straße geschäftlich 3", "Business Street 3"),
        "city": ("Ort geschäftlich", "Business City"),
        "region": ("Region geschäftlich", "Bundesland/Kanton geschäftlich", "Business State"),
        "postal_code": ("Postleitzahl geschäftlich", "PLZ geschäftlich", "Business Postal Code"),
        "country": (
            "Land/Region geschäftlich",
            "Land geschäftlich",
            "Business Country/Region",
            "Business Country",
        ),
        "pobox": ("Postfach geschäftlich", "Business PO Box", "Business P.O. Box"),
    },
    "home": {
        "street": ("Straße privat", "Home Street"),
        "street2": ("Straße privat 2", "Home Street 2"),
        "street3": ("Straße privat 3", "Home Street 3"),
        "city": ("Ort privat", "Home City"),
        "region": ("Bundesland/Kanton privat", "Region privat", "Home State"),
        "postal_code": ("Postleitzahl privat", "PLZ privat", "Home Postal Code"),
        "country": ("Land/Region privat", "Land privat", "Home Country/Region", "Home Country"),
        "pobox": ("Postfach privat", "Home PO Box", "Home P.O. Box"),
    },
    "other": {
        "street": ("Weitere Straße", "Other Street"),
        "street2": ("Weitere Straße 2", "Other Street 2"),
        "street3": ("Weitere Straße 3", "Other Street 3"),
        "city": ("Weiterer Ort", "Other City"),
        "region": ("Weiteres/r Bundesland/Kanton", "Other State"),
        "postal_code": ("Weitere Postleitzahl", "Other Postal Code"),
        "country": ("Weiteres/e Land/Region", "Other Country/Region", "Other Country"),
        "pobox": ("Weiteres Postfach", "Other PO Box", "Other P.O. Box"),
    },
    # A file with one address and no business/home distinction (generic CSV, ERP exports).
    "plain": {
        "street": (
            "street",
            "Straße",
            "Strasse und Hausnummer",
            "Straße und Hausnummer",
            "Adresse",
            "Address",
        ),
        "city": ("city", "Ort", "Stadt", "Town"),
        "region": ("region", "Bundesland", "State", "Kanton"),
        "postal_code": ("postal_code", "PLZ", "Postleitzahl", "Postal Code", "ZIP", "Zip Code", "Postcode"),
        "country": ("country", "Land", "Country/Region", "Staat"),
        "pobox": ("Postfach", "PO Box"),
    },
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "prefix": ("Anrede", "Title", "Name Prefix", "Prefix"),
    "salutation": ("salutation", "Briefanrede"),
    "title": ("Titel", "Akademischer Titel", "academic_title"),
    "first_name": ("first_name", "Vorname", "First Name", "Given Name", "Firstname"),
    "middle_name": ("middle_name", "Weitere Vornamen", "Middle Name", "Additional Name", "Zweiter Vorname"),
    "last_name": ("last_name", "Nachname", "Last Name", "Family Name", "Surname", "Lastname", "Familienname"),
    "suffix": ("suffix", "Name Suffix", "Namenszusatz"),
    "full_name": ("Name", "Full Name", "Display Name", "Anzeigename", "Vollständiger Name"),
    "company": ("company", "Firma", "Organization Name", "Organization", "Unternehmen", "Firmenname"),
    "department": ("department", "Abteilung", "Organization Department"),
    "position": ("position", "Job Title", "Organization Title", "Funktion", "Jobtitel", "Stellung"),
    "phone.business": ("phone", "Telefon geschäftlich", "Business Phone", "Telefon", "Telefonnummer", "Tel"),
    "phone.business2": ("phone2", "Telefon geschäftlich 2", "Business Phone 2", "Telefon 2"),
    "phone.company": ("Telefon Firma", "Company Main Phone"),
    "phone.primary": ("Haupttelefon", "Primary Phone"),
    "phone.home": ("Telefon privat", "Telefon (privat)", "Home Phone"),
    "phone.home2": ("Telefon privat 2", "Telefon (privat 2)", "Home Phone 2"),
    "phone.other": ("Weiteres Telefon", "Other Phone"),
    "mobile": ("mobile", "Mobiltelefon", "Mobile Phone", "Handy", "Mobil", "Mobilnummer", "Cell Phone"),
    "phone.mobile2": ("Mobiltelefon 2",),
    "fax": ("fax", "Fax geschäftlich", "Business Fax", "Telefax"),
    "fax.home": ("Fax privat", "Home Fax"),
    "fax.other": ("Weiteres Fax", "Other Fax"),
    "email": ("email", "E-Mail-Adresse", "E-mail Address", "E-Mail", "Mail", "E-Mail Adresse"),
    "email.type": ("E-Mail-Typ", "E-mail Type"),
    "email.display": ("E-Mail: Angezeigter Name", "E-mail Display Name"),
    "email2": ("email2", "E-Mail 2: Adresse", "E-mail 2 Address", "E-Mail 2"),
    "email2.type": ("E-Mail 2: Typ", "E-mail 2 Type"),
    "email2.display": ("E-Mail 2: Angezeigter Name", "E-mail 2 Display Name"),
    "email3": ("email3", "E-Mail 3: Adresse", "E-mail 3 Address", "E-Mail 3"),
    "email3.type": ("E-Mail 3: Typ", "E-mail 3 Type"),
    "email3.display": ("E-Mail 3: Angezeigter Name", "E-mail 3 Display Name"),
    "website": ("website", "Webseite", "Web Page", "Homepage", "Internet", "URL", "Internetseite"),
    "birthday": ("birthday", "Geburtstag", "Geburtsdatum", "Date of Birth"),
    "notes": ("notes", "Notizen", "Notiz", "Bemerkung", "Bemerkungen", "Anmerkungen", "Kommentar"),
    "categories": ("categories", "Kategorien", "Kategorie", "Category", "Group Membership", "Labels"),
}

# Google's numbered blocks: "E-mail 1 - Value", "Phone 2 - Type", "Address 1 - Postal Code".
GOOGLE_BLOCK = re.compile(r"^(e-mail|phone|address|organization|website) (\d+) - (.+)$")

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")

_OUTLOOK_DE_MARKERS = frozenset(
    {
        "strasse geschäftlich",
        "ort geschäftlich",
        "postleitzahl geschäftlich",
        "telefon geschäftlich",
        "strasse privat",
        "e-mail-adresse",
        "e-mail-typ",
        "weitere vornamen",
        "e-mail: angezeigter name",
    }
)
_OUTLOOK_EN_MARKERS = frozenset(
    {
        "business street",
        "business city",
        "business postal code",
        "home street",
        "e-mail address",
        "e-mail type",
        "job title",
        "business phone",
        "mobile phone",
        "e-mail display name",
    }
)
_OUTLOOK_COM_MARKERS = frozenset({"given name yomi", "family name yomi", "company yomi"})
_GOOGLE_MARKERS = frozenset({"given name", "family name", "group membership", "additional name"})
# In Outlook, "Ort" is the free-text "Location" field, not the city of any address.
_NOT_IN_OUTLOOK = frozenset({"ort"})


def normalize_header(header: str) -> str:
    """BOM and surrounding space gone, NFC, dashes unified, "_" as space, whitespace collapsed, casefolded.

    ``casefold`` turns "ß" into "ss", so "Straße" and "Strasse" meet.
    """
    text = unicodedata.normalize("NFC", header.replace("\ufeff", "")).translate(_DASHES)
    return " ".join(text.replace("_", " ").split()).casefold()


def _build_alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for slot, spellings in _ALIASES.items():
        for spelling in spellings:
            index.setdefault(normalize_header(spelling), slot)
    for block, parts in _ADDRESS_ALIASES.items():
        for part, spellings in parts.items():
            for spelling in spellings:
                index.setdefault(normalize_header(spelling), f"{block}.{part}")
    return index


ALIAS_INDEX: dict[str, str] = _build_alias_index()


def detect_dialect(normalized_headers: list[str]) -> ContactFormat:
    headers = set(normalized_headers)
    if any(GOOGLE_BLOCK.match(header) for header in headers) or headers & _GOOGLE_MARKERS:
        return "google"
    if headers & _OUTLOOK_DE_MARKERS:
        return "outlook-de"
    if headers & _OUTLOOK_COM_MARKERS:
        return "outlook-com"
    if headers & _OUTLOOK_EN_MARKERS:
        return "outlook-en"
    return "generic-csv"


def slot_for(normalized_header: str, dialect: ContactFormat, mapping: dict[str, str]) -> str | None:
    """The slot a column fills, or None for a column einklang does not read."""
    if normalized_header in mapping:
        return mapping[normalized_header]
    if dialect.startswith("outlook") and normalized_header in _NOT_IN_OUTLOOK:
        return None
    if dialect == "google" and GOOGLE_BLOCK.match(normalized_header):
        return "google." + normalized_header
    return ALIAS_INDEX.get(normalized_header)


def normalized_mapping(mapping: dict[str, str] | None) -> dict[str, str]:
    """The user's {their header: canonical field} with normalised headers; rejects unknown fields."""
    if not mapping:
        return {}
    unknown = sorted(field for field in mapping.values() if field not in CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"mapping names unknown contact fields: {', '.join(unknown)}")
    return {normalize_header(header): _canonical_to_slot(field) for header, field in mapping.items()}


def _canonical_to_slot(field: str) -> str:
    if field in {"street", "postal_code", "city", "region", "country"}:
        return f"plain.{field}"
    return {"phone": "phone.business", "phone2": "phone.business2"}.get(field, field)

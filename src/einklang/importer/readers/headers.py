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
from collections.abc import Iterator

from einklang.importer.readers.model import CONTACT_FIELDS, ContactFormat
from einklang.importer.readers.mojibake import repair_mojibake

_ADDRESS_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "business": {
        # Thunderbird writes "Work Address" (the street line) and "Dienstlich: Adresse" (German).
        "street": (
            "Straße geschäftlich",
            "Geschäftlich Straße",
            "Business Street",
            "Work Street",
            "Work Address",
            "Dienstlich: Adresse",
            "Address Work Street",
            "Work Street Address",
        ),
        "street2": ("Straße geschäftlich 2", "Business Street 2", "Work Address 2", "Dienstlich: Adresse 2"),
        "street3": ("Straße geschäftlich 3", "Business Street 3"),
        "city": ("Ort geschäftlich", "Business City", "Work City", "Dienstlich: Ort", "Address Work City"),
        "region": (
            "Region geschäftlich",
            "Bundesland/Kanton geschäftlich",
            "Business State",
            "Work State",
            "Work County",
            "Dienstlich: Bundesland",
            "Address Work State",
        ),
        "postal_code": (
            "Postleitzahl geschäftlich",
            "PLZ geschäftlich",
            "Business Postal Code",
            "Work ZipCode",
            "Work Zip Code",
            "Work Post Code",
            "Work Postal Code",
            "Dienstlich: PLZ",
            "Address Work Postal Code",
            "Address Work ZIP",
        ),
        "country": (
            "Land/Region geschäftlich",
            "Land geschäftlich",
            "Business Country/Region",
            "Business Country",
            "Work Country",
            "Dienstlich: Land",
            "Address Work Country",
        ),
        "pobox": ("Postfach geschäftlich", "Business PO Box", "Business P.O. Box"),
        # One cell holding the whole address ("Hauptstr. 1, 12345 Berlin"): split by assemble.
        "whole": ("Business Address", "Adresse geschäftlich", "Geschäftsadresse", "Arbeit Adresse"),
    },
    "home": {
        "street": (
            "Straße privat",
            "Home Street",
            "Home Address",
            "Privat: Adresse",
            "Address Home Street",
            "Home Street Address",
        ),
        "street2": ("Straße privat 2", "Home Street 2", "Home Address 2", "Privat: Adresse 2"),
        "street3": ("Straße privat 3", "Home Street 3"),
        "city": ("Ort privat", "Home City", "Privat: Ort", "Address Home City"),
        "region": (
            "Bundesland/Kanton privat",
            "Region privat",
            "Home State",
            "Home County",
            "Privat: Bundesland",
            "Address Home State",
        ),
        "postal_code": (
            "Postleitzahl privat",
            "PLZ privat",
            "Home Postal Code",
            "Home ZipCode",
            "Home Zip Code",
            "Home Post Code",
            "Privat: PLZ",
            "Address Home Postal Code",
            "Address Home ZIP",
        ),
        "country": (
            "Land/Region privat",
            "Land privat",
            "Home Country/Region",
            "Home Country",
            "Privat: Land",
            "Address Home Country",
        ),
        "pobox": ("Postfach privat", "Home PO Box", "Home P.O. Box"),
        "whole": ("Privatadresse", "Adresse privat"),
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
        "postal_code": (
            "postal_code",
            "PLZ",
            "Postleitzahl",
            "Postal Code",
            "ZIP",
            "Zip Code",
            "zipcode",
            "Postcode",
            "Post Code",
        ),
        "country": ("country", "Land", "Country/Region", "Staat"),
        "pobox": ("Postfach", "PO Box"),
    },
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "prefix": ("Anrede", "Title", "Name Prefix", "Prefix"),
    "salutation": ("salutation", "Briefanrede"),
    "title": ("Titel", "Akademischer Titel", "academic_title"),
    "first_name": ("first_name", "Vorname", "First Name", "Given Name", "Firstname", "Name First"),
    "middle_name": ("middle_name", "Weitere Vornamen", "Middle Name", "Additional Name", "Zweiter Vorname"),
    "last_name": (
        "last_name",
        "Nachname",
        "Last Name",
        "Family Name",
        "Surname",
        "Lastname",
        "Familienname",
        "Name Last",
    ),
    "suffix": ("suffix", "Name Suffix", "Namenszusatz"),
    "full_name": ("Name", "Full Name", "Display Name", "Anzeigename", "Vollständiger Name"),
    "company": (
        "company",
        "Firma",
        "Organization Name",
        "Organization",
        "Organisation",
        "Unternehmen",
        "Firmenname",
        "Company Name",
    ),
    "department": ("department", "Abteilung", "Organization Department"),
    "position": (
        "position",
        "Job Title",
        "Organization Title",
        "Funktion",
        "Jobtitel",
        "Stellung",
        "Arbeitstitel",
        "Position",
    ),
    "phone.business": (
        "phone",
        "Telefon geschäftlich",
        "Business Phone",
        "Telefon",
        "Telefonnummer",
        "Tel",
        "Work Phone",
        "Tel. dienstlich",
        "Telefon dienstlich",
        "Phone Work",
        "Arbeit Telefon",
        "Telefon Arbeit",
    ),
    "phone.business2": ("phone2", "Telefon geschäftlich 2", "Business Phone 2", "Telefon 2"),
    "phone.company": ("Telefon Firma", "Company Main Phone"),
    "phone.primary": ("Haupttelefon", "Primary Phone"),
    "phone.home": ("Telefon privat", "Telefon (privat)", "Home Phone", "Tel. privat", "Phone Home", "Privat Telefon"),
    "phone.home2": ("Telefon privat 2", "Telefon (privat 2)", "Home Phone 2"),
    "phone.other": ("Weiteres Telefon", "Other Phone", "Phone Other"),
    "mobile": (
        "mobile",
        "Mobiltelefon",
        "Mobile Phone",
        "Handy",
        "Mobil",
        "Mobilnummer",
        "Cell Phone",
        "Mobile Number",
        "Mobil-Tel.-Nr.",
        "Mobiltelefonnummer",
        "Home Mobile",
        "Phone Mobile",
        "Phone iPhone",
    ),
    "phone.mobile2": ("Mobiltelefon 2", "Work Mobile"),
    "fax": (
        "fax",
        "Fax geschäftlich",
        "Business Fax",
        "Telefax",
        "Fax Number",
        "Fax-Nummer",
        "Work Fax",
        "Phone Work Fax",
    ),
    "fax.home": ("Fax privat", "Home Fax", "Phone Home Fax"),
    "fax.other": ("Weiteres Fax", "Other Fax"),
    "email": (
        "email",
        "E-Mail-Adresse",
        "E-mail Address",
        "E-Mail",
        "Mail",
        "E-Mail Adresse",
        "Primary Email",
        "Primäre E-Mail-Adresse",
        "Email Address",
        "Email",
    ),
    "email.type": ("E-Mail-Typ", "E-mail Type"),
    "email.display": ("E-Mail: Angezeigter Name", "E-mail Display Name"),
    "email2": (
        "email2",
        "E-Mail 2: Adresse",
        "E-mail 2 Address",
        "E-Mail 2",
        "Secondary Email",
        "Sekundäre E-Mail-Adresse",
    ),
    "email2.type": ("E-Mail 2: Typ", "E-mail 2 Type"),
    "email2.display": ("E-Mail 2: Angezeigter Name", "E-mail 2 Display Name"),
    "email3": ("email3", "E-Mail 3: Adresse", "E-mail 3 Address", "E-Mail 3"),
    "email3.type": ("E-Mail 3: Typ", "E-mail 3 Type"),
    "email3.display": ("E-Mail 3: Angezeigter Name", "E-mail 3 Display Name"),
    "website": (
        "website",
        "Webseite",
        "Web Page",
        "Homepage",
        "Internet",
        "URL",
        "Internetseite",
        "Web Page 1",
        "Webseite 1",
    ),
    "birthday": ("birthday", "Geburtsdatum", "Date of Birth", "Birthday Date"),
    # "Geburtstag" is Outlook's whole date, but Thunderbird's day of the month (beside Geburtsjahr
    # and Geburtsmonat): assemble tells them apart.
    "birth.day_or_date": ("Geburtstag",),
    "birth.year": ("Birth Year", "Geburtsjahr"),
    "birth.month": ("Birth Month", "Geburtsmonat"),
    "birth.day": ("Birth Day",),
    "notes": ("notes", "Notizen", "Notiz", "Bemerkung", "Bemerkungen", "Anmerkungen", "Kommentar", "Note"),
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
_OUTLOOK_DE_DAMAGED_MARKERS = frozenset(
    damaged_marker for damaged_marker in ("stra?e gesch?ftlich", "telefon gesch?ftlich", "ort gesch?ftlich")
)
_OUTLOOK_COM_MARKERS = frozenset({"given name yomi", "family name yomi", "company yomi"})
_THUNDERBIRD_EN_MARKERS = frozenset(
    {"primary email", "secondary email", "screen name", "work zipcode", "home zipcode", "web page 1", "birth year"}
)
_THUNDERBIRD_DE_MARKERS = frozenset(
    {
        "primäre e-mail-adresse",
        "sekundäre e-mail-adresse",
        "dienstlich: adresse",
        "privat: adresse",
        "dienstlich: plz",
        "mobil-tel.-nr.",
        "geburtsjahr",
    }
)
# Apple Contacts has no CSV export of its own; the exporters people use name columns like this.
_APPLE_MARKERS = frozenset({"email home", "email work", "home mobile", "phone iphone", "address home street"})
_GOOGLE_MARKERS = frozenset({"given name", "family name", "group membership", "additional name"})
# In Outlook, "Ort" is the free-text "Location" field, not the city of any address.
_NOT_IN_OUTLOOK = frozenset({"ort"})


def normalize_header(header: str) -> str:
    """BOM and surrounding space gone, NFC, dashes unified, "_" as space, whitespace collapsed, casefolded.

    ``casefold`` turns "ß" into "ss", so "Straße" and "Strasse" meet.
    """
    text = unicodedata.normalize("NFC", header.replace("\ufeff", "")).translate(_DASHES)
    return " ".join(text.replace("_", " ").split()).casefold()


def _all_spellings() -> Iterator[tuple[str, str]]:
    for slot, spellings in _ALIASES.items():
        for spelling in spellings:
            yield spelling, slot
    for block, parts in _ADDRESS_ALIASES.items():
        for part, spellings in parts.items():
            for spelling in spellings:
                # a whole address in one cell is read as the street and split there (assemble)
                yield spelling, f"{block}.{'street' if part == 'whole' else part}"


def _build_alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for spelling, slot in _all_spellings():
        index.setdefault(normalize_header(spelling), slot)
    return index


def damaged_key(header: str) -> str:
    """A header with every non-ASCII character as "?": "Stra�e gesch�ftlich" meets "Straße geschäftlich".

    A wrong code page (or a converter that wrote "?") damages exactly the non-ASCII letters, one
    character each; the ASCII rest still tells the column.
    """
    text = unicodedata.normalize("NFC", header.replace("\ufeff", "")).translate(_DASHES).replace("_", " ")
    text = " ".join(text.split()).lower()
    return "".join(char if char.isascii() else "?" for char in text)


def _build_damaged_index() -> dict[str, str | None]:
    index: dict[str, str | None] = {}
    for spelling, slot in _all_spellings():
        key = damaged_key(spelling)
        if "?" not in key:
            continue
        # Two different columns that only differ in their non-ASCII letters: no guess.
        index[key] = slot if index.get(key, slot) == slot else None
    return index


ALIAS_INDEX: dict[str, str] = _build_alias_index()
_DAMAGED_INDEX: dict[str, str | None] = _build_damaged_index()


def detect_dialect(normalized_headers: list[str]) -> ContactFormat:
    headers = set(normalized_headers)
    if any(GOOGLE_BLOCK.match(header) for header in headers) or headers & _GOOGLE_MARKERS:
        return "google"
    # Before Outlook: Thunderbird also has "Job Title" and "Mobile Number"-like columns.
    if headers & _THUNDERBIRD_DE_MARKERS:
        return "thunderbird-de"
    if headers & _THUNDERBIRD_EN_MARKERS:
        return "thunderbird-en"
    if headers & _OUTLOOK_DE_MARKERS or {damaged_key(h) for h in headers} & _OUTLOOK_DE_DAMAGED_MARKERS:
        return "outlook-de"
    if headers & _OUTLOOK_COM_MARKERS:
        return "outlook-com"
    if headers & _OUTLOOK_EN_MARKERS:
        return "outlook-en"
    if headers & _APPLE_MARKERS:
        return "apple-csv"
    return "generic-csv"


def slot_for(header: str, dialect: ContactFormat, mapping: dict[str, str]) -> str | None:
    """The slot a column fills, or None for a column einklang does not read.

    ``header`` is the file's header as written (or already normalised).  Exact spellings first;
    then a header damaged by a wrong code page ("Stra�e", "StraÃŸe"); then what the header's
    words say ("Email Work", "Arbeit E-Mail", "Phone (Office)") -- so a column that holds e-mail
    addresses, phone numbers or an address is read, not dropped.
    """
    normalized_header = normalize_header(header)
    if normalized_header in mapping:
        return mapping[normalized_header]
    if dialect.startswith("outlook") and normalized_header in _NOT_IN_OUTLOOK:
        return None
    if dialect == "google" and GOOGLE_BLOCK.match(normalized_header):
        return "google." + normalized_header
    if normalized_header in ALIAS_INDEX:
        return ALIAS_INDEX[normalized_header]
    repaired = repair_mojibake(header)
    if repaired is not None and normalize_header(repaired) in ALIAS_INDEX:
        return ALIAS_INDEX[normalize_header(repaired)]
    damaged = damaged_key(header.replace("\ufffd", "?"))
    if "?" in damaged and _DAMAGED_INDEX.get(damaged):
        return _DAMAGED_INDEX[damaged]
    return _slot_by_words(normalized_header)


# Columns about a value (its type, label, display name) and the assistant's or car's numbers of
# Outlook are not the contact's own values.
_NOT_A_VALUE = re.compile(
    r"\b(type|typ|label|display|angezeigt\w*|name|kind|art|pref\w*)\b|assist|auto|car phone|radio|funk|telex|isdn|tty"
)
_EMAIL_WORDS = re.compile(r"e-?mail|\bmail\b")
_FAX_WORDS = re.compile(r"fax")
_MOBILE_WORDS = re.compile(r"mobil|handy|\bcell|iphone")
_PHONE_WORDS = re.compile(r"phone|telefon|\btel\b|\bfon\b|rufnummer")
_PAGER_WORDS = re.compile(r"pager")
_HOME_WORDS = re.compile(r"\b(home|privat|private|zuhause)\b")
_WORK_WORDS = re.compile(r"\b(work|business|office|geschäftlich|dienstlich|arbeit|büro|firma)\b")
_ADDRESS_PART_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("postal_code", re.compile(r"zip|plz|postleitzahl|postal|post code|postcode")),
    ("country", re.compile(r"country|\bland\b|staat")),
    ("region", re.compile(r"\bstate\b|bundesland|\bregion\b|county|province|kanton")),
    ("city", re.compile(r"\b(city|ort|stadt|town)\b")),
    ("street", re.compile(r"street|strasse|address|adresse|anschrift")),
)


def _slot_by_words(header: str) -> str | None:
    """A slot from the words of an unknown header; the ``*.extra`` slots take any number of columns."""
    if _NOT_A_VALUE.search(header) or _PAGER_WORDS.search(header):
        return None
    if _EMAIL_WORDS.search(header):
        return "email.extra"
    if _FAX_WORDS.search(header):
        return "fax.extra"
    if _MOBILE_WORDS.search(header):
        return "mobile.extra"
    if _PHONE_WORDS.search(header):
        return "phone.extra"
    for part, words in _ADDRESS_PART_WORDS:
        if words.search(header):
            block = "home" if _HOME_WORDS.search(header) else "business" if _WORK_WORDS.search(header) else "plain"
            return f"{block}.{part}"
    return None


def looks_like(header: str) -> str | None:
    """What an unread column's name suggests it holds ("e-mail", "phone", "address"), for the report."""
    normalized = normalize_header(header)
    if _EMAIL_WORDS.search(normalized):
        return "e-mail"
    if _PHONE_WORDS.search(normalized) or _MOBILE_WORDS.search(normalized) or _FAX_WORDS.search(normalized):
        return "phone"
    if any(words.search(normalized) for _part, words in _ADDRESS_PART_WORDS):
        return "address"
    return None


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

"""What the readers produce: contact rows, problems, and the error for unreadable files."""

from __future__ import annotations

import dataclasses
from typing import Literal

CONTACT_FIELDS: tuple[str, ...] = (
    "salutation",
    "title",
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "company",
    "department",
    "position",
    "street",
    "postal_code",
    "city",
    "region",
    "country",
    "phone",
    "phone2",
    "mobile",
    "fax",
    "email",
    "email2",
    "email3",
    "website",
    "birthday",
    "notes",
    "categories",
)

ContactFormat = Literal[
    "outlook-de",
    "outlook-en",
    "outlook-com",
    "thunderbird-en",
    "thunderbird-de",
    "apple-csv",
    "google",
    "vcard-2.1",
    "vcard-3.0",
    "vcard-4.0",
    "generic-csv",
    "outlook-pst",
]
Severity = Literal["error", "warning"]


@dataclasses.dataclass(frozen=True, slots=True)
class ContactRow:
    """One contact as found in a file: raw (not yet normalised) values per canonical field.

    ``fields`` only holds fields that have a non-empty value.  ``row`` counts data records from 1
    (the header is not counted, a quoted multi-line record counts once, a vCard is one record);
    ``line`` is the physical line where the record starts, for messages a person can follow.
    """

    source: str
    row: int
    line: int
    format: ContactFormat
    fields: dict[str, str]
    binary_skipped: int = 0
    """Inline binary values (vCard PHOTO, LOGO, SOUND, KEY) left unread: einklang does not use them."""
    unplaced_phones: tuple[str, ...] = ()
    """Phone numbers beyond phone, phone2, mobile and fax: not kept, reported by validation."""


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a record or one of its values, located for the person who fixes it."""

    source: str
    line: int | None
    row: int | None
    field: str | None
    value: str | None
    message: str
    severity: Severity = "error"
    record_lost: bool = False
    """The whole record could not be read (it counts as a row read, and as lost)."""

    def __str__(self) -> str:
        location = self.source if self.line is None else f"{self.source}:{self.line}"
        if self.field:
            location = f"{location}:{self.field}"
        return f"{location}: {self.message}"


class ReaderError(Exception):
    """A file that cannot be read at all (missing, undecodable, no known columns)."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        location = source if line is None else f"{source}:{line}"
        super().__init__(f"{location}: {message}")

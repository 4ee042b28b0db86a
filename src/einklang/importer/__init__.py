"""Importing contacts from files: readers, validation and normalisation of what they read."""

from einklang.importer.readers import (
    CONTACT_FIELDS,
    ContactFormat,
    ContactRow,
    Problem,
    ReaderError,
    read_contacts,
)

__all__ = ["CONTACT_FIELDS", "ContactFormat", "ContactRow", "Problem", "ReaderError", "read_contacts"]

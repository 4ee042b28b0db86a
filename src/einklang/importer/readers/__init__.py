"""Readers for contact files: Outlook CSV (German, English, Outlook.com), Google CSV, vCard, generic CSV.

:func:`read_contacts` yields one :class:`ContactRow` per record, with raw values per canonical
field, or a :class:`Problem` for a record that cannot be used; reading goes on after a problem.
Values are not normalised here; see :mod:`einklang.importer.validate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from einklang.importer.readers.csv_reader import read_csv_rows, read_layout
from einklang.importer.readers.decoding import detect_encoding
from einklang.importer.readers.headers import normalized_mapping
from einklang.importer.readers.model import (
    CONTACT_FIELDS,
    ContactFormat,
    ContactRow,
    Problem,
    ReaderError,
    Severity,
)
from einklang.importer.readers.vcard import read_vcard_rows

__all__ = [
    "CONTACT_FIELDS",
    "ContactFormat",
    "ContactRow",
    "Problem",
    "ReaderError",
    "Severity",
    "read_contacts",
]

_SNIFF_SIZE = 4096
# A card may follow a line or two of junk (a mail header, a stray BOM); the vCard reader reports those.
_BEGIN_VCARD = re.compile(r"(?im)^[\ufeff \t]*BEGIN:VCARD[ \t]*$")


def read_contacts(
    path: Path,
    *,
    source_name: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
) -> Iterator[ContactRow | Problem]:
    """Read the contacts of one file, streaming; vCard or CSV is told from the content.

    ``source_name`` is how messages name the file (default: ``path`` as given).  ``encoding`` and
    ``delimiter`` override detection.  ``mapping`` maps the file's own CSV headers to canonical
    fields ({"Kundenname": "company"}); it wins over the built-in header aliases.

    Raises ReaderError at once (not on first iteration) when the file cannot be read at all:
    missing, not text, or a CSV header without a single known column.
    """
    path = Path(path)
    source = source_name if source_name is not None else str(path)
    header_mapping = normalized_mapping(mapping)
    if path.is_dir():
        raise ReaderError(source, "is a directory, not a contact file")
    chosen_encoding = encoding or detect_encoding(path, source)
    if _is_vcard(path, source, chosen_encoding):
        return read_vcard_rows(path, source, chosen_encoding)
    # The header is read now so that an unusable file fails here rather than in the caller's loop.
    read_layout(path, source, chosen_encoding, delimiter, header_mapping)
    return read_csv_rows(path, source, chosen_encoding, delimiter, header_mapping)


def _is_vcard(path: Path, source: str, encoding: str) -> bool:
    try:
        with path.open(encoding=encoding, errors="replace") as file:
            head = file.read(_SNIFF_SIZE)
    except (OSError, LookupError) as error:
        raise ReaderError(source, f"cannot read file: {error}") from None
    return path.suffix.lower() in {".vcf", ".vcard"} or _BEGIN_VCARD.search(head) is not None

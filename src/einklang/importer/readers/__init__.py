"""Readers for contact files: Outlook, Thunderbird, Apple and Google CSV (English and German), vCard,
generic CSV, and Outlook data files (.pst/.ost).

:func:`read_contacts` yields one :class:`ContactRow` per record, with raw values per canonical
field, or a :class:`Problem` for a record that cannot be used; reading goes on after a problem.
Values are not normalised here; see :mod:`einklang.importer.validate`.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

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
    "FileInfo",
    "FileKind",
    "Problem",
    "ReaderError",
    "Severity",
    "open_contacts",
    "read_contacts",
    "sniff_format",
]

_SNIFF_SIZE = 4096
# A card may follow a line or two of junk (a mail header, a stray BOM); the vCard reader reports those.
_BEGIN_VCARD = re.compile(r"(?im)^[\ufeff \t]*BEGIN:VCARD[ \t]*\r*$")
_VCARD_SUFFIXES = frozenset({".vcf", ".vcard"})
_OUTLOOK_DATA_SUFFIXES = frozenset({".pst", ".ost"})
# Every PST/OST file starts with these four bytes (MS-PST 2.2.2.6).
_PST_MAGIC = b"!BDN"

FileKind = Literal["vcard", "csv", "outlook-data"]


@dataclasses.dataclass(frozen=True, slots=True)
class FileInfo:
    """What a contact file was taken for: its kind, and for a CSV its encoding and delimiter.

    ``encoding`` of a vCard is None unless the whole file is UTF-16: vCards are decoded per property.
    """

    kind: FileKind
    encoding: str | None = None
    delimiter: str | None = None


def sniff_format(path: Path, source: str) -> FileKind:
    """vCard, CSV or Outlook data file, told from the first bytes and the name.

    The one place that decides it (``inspect``, ``dedupe`` and ``import`` all come here): a
    ``.vcf`` is a vCard even when junk comes before its first ``BEGIN:VCARD``, and any file with a
    ``BEGIN:VCARD`` line near its start is one whatever its name.
    """
    path = Path(path)
    if path.is_dir():
        raise ReaderError(source, "is a directory, not a contact file")
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_SIZE)
    except OSError as error:
        raise ReaderError(source, f"cannot read file: {error.strerror or error}") from None
    suffix = path.suffix.lower()
    if head.startswith(_PST_MAGIC) or suffix in _OUTLOOK_DATA_SUFFIXES:
        return "outlook-data"
    if suffix in _VCARD_SUFFIXES:
        return "vcard"
    return "vcard" if _BEGIN_VCARD.search(_head_text(head)) else "csv"


def _head_text(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    return head.decode("latin-1")


def open_contacts(
    path: Path,
    *,
    source_name: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
) -> tuple[FileInfo, Iterator[ContactRow | Problem]]:
    """What :func:`read_contacts` reads, and what the file was taken for (kind, encoding, delimiter).

    Raises ReaderError at once when the file cannot be read at all.
    """
    path = Path(path)
    source = source_name if source_name is not None else str(path)
    header_mapping = normalized_mapping(mapping)
    kind = sniff_format(path, source)
    if kind == "outlook-data":
        from einklang.importer.readers.outlook_data import read_outlook_data_rows

        return FileInfo(kind), read_outlook_data_rows(path, source)
    if kind == "vcard":
        file_encoding = encoding or _utf16_bom(path)
        return FileInfo(kind, file_encoding), read_vcard_rows(path, source, file_encoding)
    chosen_encoding = encoding or detect_encoding(path, source)
    # The header is read now so that an unusable file fails here rather than in the caller's loop.
    layout = read_layout(path, source, chosen_encoding, delimiter, header_mapping)
    rows = read_csv_rows(path, source, chosen_encoding, delimiter, header_mapping)
    return FileInfo(kind, chosen_encoding, layout.delimiter), rows


def read_contacts(
    path: Path,
    *,
    source_name: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
) -> Iterator[ContactRow | Problem]:
    """Read the contacts of one file, streaming; vCard, CSV or Outlook data file is told from the content.

    ``source_name`` is how messages name the file (default: ``path`` as given).  ``encoding`` and
    ``delimiter`` override detection.  ``mapping`` maps the file's own CSV headers to canonical
    fields ({"Kundenname": "company"}); it wins over the built-in header aliases.

    Raises ReaderError at once (not on first iteration) when the file cannot be read at all:
    missing, not text, or a CSV header without a single known column.
    """
    _info, rows = open_contacts(path, source_name=source_name, encoding=encoding, delimiter=delimiter, mapping=mapping)
    return rows


def _utf16_bom(path: Path) -> str | None:
    with path.open("rb") as file:
        head = file.read(2)
    return "utf-16" if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else None

"""Which text encoding a contact file uses.

Order: a BOM (UTF-8, UTF-16), then strict UTF-8, then Windows-1252.  Never latin-1: it would turn
the €, „ and “ of a cp1252 file into invisible control characters instead of failing.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from einklang.importer.readers.model import ReaderError

_CHUNK_SIZE = 1 << 16  # bytes; the decoded text of a chunk is dropped at once


def detect_encoding(path: Path, source: str) -> str:
    """Return a Python codec name that decodes the whole file; reads it in chunks, never whole."""
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError as error:
        raise ReaderError(source, f"cannot read file: {error.strerror or error}") from None
    candidates: list[str]
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif _looks_like_utf16(head):
        # Excel's "Unicode Text" without a BOM: every other byte of ASCII text is NUL.
        candidates = ["utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"]
    else:
        candidates = ["utf-8", "cp1252"]
    first_failure: tuple[int, str] | None = None
    for encoding in candidates:
        failure = _first_undecodable(path, encoding, source)
        if failure is None:
            return encoding
        first_failure = first_failure or failure
    assert first_failure is not None
    line, detail = first_failure
    names = " nor ".join({"utf-8": "UTF-8", "cp1252": "Windows-1252"}.get(name, name) for name in candidates)
    raise ReaderError(source, f"not readable as text: neither {names} ({detail})", line=line)


def _looks_like_utf16(head: bytes) -> bool:
    sample = head[:1024]
    return len(sample) >= 4 and sample.count(0) >= len(sample) // 3


def _first_undecodable(path: Path, encoding: str, source: str) -> tuple[int, str] | None:
    """(line, detail) of the first byte that ``encoding`` cannot decode, or None if all decode."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    newlines_before = 0
    try:
        with path.open("rb") as file:
            while True:
                chunk = file.read(_CHUNK_SIZE)
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as error:
                    # error.start is relative to what the decoder held, which starts within this chunk
                    # or a few bytes before it: close enough for a line number.
                    line = newlines_before + chunk[: max(error.start, 0)].count(b"\n") + 1
                    bad = error.object[error.start : error.start + 1].hex()
                    return line, f"undecodable byte 0x{bad}" if bad else str(error.reason)
                if not chunk:
                    return None
                newlines_before += chunk.count(b"\n")
    except OSError as error:
        raise ReaderError(source, f"cannot read file: {error.strerror or error}") from None

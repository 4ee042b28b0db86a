"""Decoding one value's bytes, and recognising (and where possible repairing) mojibake.

Mojibake is UTF-8 read as a single-byte code page: "Müller" becomes "MÃ¼ller", "„" becomes
"â€ž".  It is recognised by its tell-tale pairs; a repair (re-encode as the code page, decode as
UTF-8) is kept only when it decodes strictly and leaves no tell-tale pair behind.  What cannot be
repaired is kept as it is and reported: a person decides, nothing is silently changed or lost.
"""

from __future__ import annotations

import re

# "Ã" or "Â" followed by a character UTF-8's continuation bytes turn into under cp1252/latin-1,
# or the "â€" that starts every cp1252-misread typographic quote, dash and the euro sign.
_TELL_TALE = re.compile(
    "[ÃÂ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]|â€"
)
REPLACEMENT_CHARACTER = "\ufffd"
_FALLBACK = "cp1252"


def has_mojibake(text: str) -> bool:
    """Whether ``text`` shows the marks of UTF-8 misread as Windows-1252/latin-1, or U+FFFD."""
    return REPLACEMENT_CHARACTER in text or _TELL_TALE.search(text) is not None


def repair_mojibake(text: str) -> str | None:
    """``text`` with UTF-8-read-as-cp1252 undone, or None when that is not what happened."""
    if not _TELL_TALE.search(text):
        return None
    for code_page in ("cp1252", "latin-1"):
        try:
            repaired = text.encode(code_page).decode("utf-8")
        except UnicodeError:
            continue
        if not _TELL_TALE.search(repaired):
            return repaired
    return None


def decode_value(data: bytes, charsets: list[str]) -> tuple[str, str | None]:
    """Text of ``data``: the declared charset first, then UTF-8, then Windows-1252.

    Returns (text, note); the note says what needed care (an unknown or wrong charset, a repaired
    or unrepairable mojibake, undecodable bytes) and is None for a clean decode.
    """
    note: str | None = None
    text: str | None = None
    for charset in [*charsets, "utf-8", _FALLBACK]:
        try:
            text = data.decode(charset)
        except LookupError:
            note = f"unknown CHARSET {charset!r}; decoded as UTF-8 or Windows-1252"
            continue
        except UnicodeDecodeError:
            if charsets and charset == charsets[0]:
                note = f"value is not valid {charset} as its CHARSET says; decoded otherwise"
            continue
        break
    if text is None:
        text = data.decode(_FALLBACK, errors="replace")
        note = "undecodable bytes replaced by U+FFFD"
    elif charset == _FALLBACK and not charsets and note is None:
        # Not UTF-8 and no CHARSET to say what else: Windows-1252 is a guess. The Bat! writes the
        # user's code page ("Iksi=F1ski" is "Iksiński" in Windows-1250), so a person must look.
        note = f"no CHARSET and not UTF-8: read as Windows-1252 ({text[:40]!r}); check the letters"
    if _TELL_TALE.search(text):
        repaired = repair_mojibake(text)
        if repaired is not None:
            return repaired, f"garbled text (UTF-8 read as a code page) repaired: {repaired[:40]!r}"
        return text, f"text looks garbled (mojibake) and cannot be repaired: {text[:40]!r}"
    if REPLACEMENT_CHARACTER in text and note is None:
        note = "value holds U+FFFD: characters were lost before einklang read the file"
    return text, note

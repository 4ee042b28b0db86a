"""Text cleaning and the comparison key (``fold``) all other keys build on."""

from __future__ import annotations

import re
import unicodedata

# Characters that look like nothing but break equality (zero-width space, BOM, soft hyphen, ...).
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS))
# Searching is many times cheaper than str.translate, and most text has none of them.
_HAS_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]").search

# Letters that NFKD does not decompose into base letter + combining mark.
_UNDECOMPOSABLE = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i", "ħ": "h"}
)
_GERMAN_UMLAUTS = str.maketrans({"ä": "a", "ö": "o", "ü": "u"})
_APOSTROPHES = dict.fromkeys(map(ord, "'’`´ʼ"))


def clean_text(value: str | None) -> str | None:
    """NFC, trimmed, inner whitespace (incl. NBSP, tabs, newlines) collapsed to one space; empty -> None."""
    if value is None:
        return None
    # The shortcuts below are for plain str only; a subclass or a wrong type takes the long way and
    # gets exactly its old result or error.
    if type(value) is str and value.isascii():
        # Nothing in ASCII changes under NFC and every invisible character is non-ASCII, so only
        # the whitespace needs work.
        return " ".join(value.split()) or None
    text = unicodedata.normalize("NFC", value)
    if type(text) is not str or _HAS_INVISIBLE(text):
        text = text.translate(_INVISIBLE)
    text = " ".join(text.split())
    return text or None


def fold(value: str) -> str:
    """Comparison key: lowercase, umlauts and diacritics folded, punctuation removed, spaces collapsed.

    Müller, Mueller and Muller give the same key.  The key is lossy on purpose (``Michael`` and
    ``Michal`` meet as well); it is only for comparing, never for display.
    """
    # Compatibility forms (𝑨, ﬁ) and case folding can feed each other, so repeat until stable.
    text = _fold_once(value)
    for _ in range(8):  # bounded: two or three rounds settle every input seen so far
        again = _fold_once(text)
        if again == text:
            break
        text = again
    return text


def _fold_once(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).translate(_INVISIBLE).casefold()  # casefold: ß -> ss
    text = text.translate(_GERMAN_UMLAUTS).translate(_UNDECOMPOSABLE)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = text.translate(_APOSTROPHES)
    text = "".join(ch if ch.isalnum() else " " for ch in text).casefold()
    # The transliterated spelling (Mueller) must meet Müller and Muller.
    text = text.replace("ae", "a").replace("oe", "o").replace("ue", "u")
    return " ".join(text.split())

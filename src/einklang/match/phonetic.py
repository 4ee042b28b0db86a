"""Kölner Phonetik, used only to build blocking keys.

Blocking must put Schmidt and Schmitt, or Meier and Mayer, into the same block, otherwise the
scorer never sees the pair. Exact folded keys cannot do that; a phonetic code designed for
German names can. The code is not used for scoring, where string distances are more precise.
"""

from __future__ import annotations

from functools import lru_cache

_SIMPLE_CODES = {
    **dict.fromkeys("aeijouy", "0"),
    "b": "1",
    **dict.fromkeys("fvw", "3"),
    **dict.fromkeys("gkq", "4"),
    "l": "5",
    **dict.fromkeys("mn", "6"),
    "r": "7",
    **dict.fromkeys("sz", "8"),
}


def _code_for(previous: str, letter: str, following: str, first: bool) -> str:
    if letter in _SIMPLE_CODES:
        return _SIMPLE_CODES[letter]
    if letter == "h":
        return ""
    if letter == "p":
        return "3" if following == "h" else "1"
    if letter in "dt":
        return "8" if following in "csz" else "2"
    if letter == "x":
        return "8" if previous in "ckq" else "48"
    if letter == "c":
        if first:
            return "4" if following in "ahkloqrux" else "8"
        if previous in "sz":
            return "8"
        return "4" if following in "ahkoqux" else "8"
    return ""


@lru_cache(maxsize=50_000)
def cologne_phonetic(folded: str) -> str:
    """Phonetic code of an already folded (lowercase ASCII) word; empty for no letters."""
    letters = [ch for ch in folded if "a" <= ch <= "z"]
    raw_codes: list[str] = []
    for index, letter in enumerate(letters):
        previous = letters[index - 1] if index > 0 else ""
        following = letters[index + 1] if index + 1 < len(letters) else ""
        raw_codes.append(_code_for(previous, letter, following, index == 0))
    joined = "".join(raw_codes)
    collapsed: list[str] = []
    for digit in joined:
        if not collapsed or collapsed[-1] != digit:
            collapsed.append(digit)
    if not collapsed:
        return ""
    # Vowels count only at the start of a word.
    return collapsed[0] + "".join(digit for digit in collapsed[1:] if digit != "0")

"""Company names: the legal form, and a comparison key without it."""

from __future__ import annotations

import functools
import re

from einklang.normalize.text import clean_text, fold

# (spelling, canonical abbreviation).  Longer forms are tried first, so "GmbH & Co. KG" wins over "KG".
_LEGAL_FORMS: tuple[tuple[str, str], ...] = (
    ("GmbH & Co. KGaA", "GmbH & Co. KGaA"),
    ("GmbH & Co. KG", "GmbH & Co. KG"),
    ("GmbH & Co. OHG", "GmbH & Co. OHG"),
    ("GmbH & Co. Kommanditgesellschaft", "GmbH & Co. KG"),
    ("AG & Co. KG", "AG & Co. KG"),
    ("SE & Co. KG", "SE & Co. KG"),
    ("UG (haftungsbeschränkt) & Co. KG", "UG (haftungsbeschränkt) & Co. KG"),
    ("UG (haftungsbeschraenkt) & Co. KG", "UG (haftungsbeschränkt) & Co. KG"),
    ("Unternehmergesellschaft (haftungsbeschränkt)", "UG (haftungsbeschränkt)"),
    ("UG (haftungsbeschränkt)", "UG (haftungsbeschränkt)"),
    ("UG (haftungsbeschraenkt)", "UG (haftungsbeschränkt)"),
    ("UG (hb)", "UG (haftungsbeschränkt)"),
    ("UG", "UG (haftungsbeschränkt)"),
    ("Gesellschaft mit beschränkter Haftung", "GmbH"),
    ("Gesellschaft mit beschraenkter Haftung", "GmbH"),
    ("Ges.m.b.H.", "GmbH"),
    ("GesmbH", "GmbH"),
    ("gGmbH", "gGmbH"),
    ("GmbH", "GmbH"),
    ("mbH", "GmbH"),
    ("Kommanditgesellschaft auf Aktien", "KGaA"),
    ("KGaA", "KGaA"),
    ("Aktiengesellschaft", "AG"),
    ("AG", "AG"),
    ("Kommanditgesellschaft", "KG"),
    ("KG", "KG"),
    ("Offene Handelsgesellschaft", "OHG"),
    ("OHG", "OHG"),
    ("Gesellschaft bürgerlichen Rechts", "GbR"),
    ("GbR", "GbR"),
    ("PartG mbB", "PartG mbB"),
    ("PartG", "PartG"),
    ("eingetragener Verein", "e.V."),
    ("e.V.", "e.V."),
    ("eingetragene Genossenschaft", "eG"),
    ("eG", "eG"),
    ("eingetragener Kaufmann", "e.K."),
    ("eingetragene Kauffrau", "e.K."),
    ("e.Kfm.", "e.K."),
    ("e.Kfr.", "e.K."),
    ("e.K.", "e.K."),
    ("Societas Europaea", "SE"),
    ("SE", "SE"),
    ("Limited", "Ltd"),
    ("Ltd.", "Ltd"),
    ("PLC", "PLC"),
    ("LLC", "LLC"),
    ("LLP", "LLP"),
    ("Incorporated", "Inc"),
    ("Inc.", "Inc"),
    ("Corporation", "Corp"),
    ("Corp.", "Corp"),
    ("S.à r.l.", "S.à r.l."),
    ("S.a.r.l.", "S.à r.l."),
    ("SARL", "SARL"),
    ("S.A.S.", "SAS"),
    ("S.A.", "SA"),
    ("S.p.A.", "S.p.A."),
    ("S.r.l.", "S.r.l."),
    ("B.V.", "B.V."),
    ("N.V.", "N.V."),
    ("sp. z o.o.", "sp. z o.o."),
    ("A/S", "A/S"),
    ("ApS", "ApS"),
    ("AB", "AB"),
    ("Oy", "Oy"),
)
# Status words that follow a legal form: "in Liquidation", "in Gründung".
_STATUS = re.compile(r"(?i)[\s,]+(?:i\.\s*L\.|in\s+Liquidation|i\.\s*G\.|in\s+Gr(?:ü|ue)ndung|i\.\s*Gr\.)\s*$")
_CONNECTORS = frozenset({"und", "and", "et"})


def legal_form(name: str) -> str | None:
    """The canonical abbreviation of the legal form at the end of ``name`` ("Aktiengesellschaft" -> "AG")."""
    text = clean_text(name)
    if text is None:
        return None
    text = _STATUS.sub("", text)
    for pattern, canonical in _legal_form_patterns():
        if pattern.search(text) and pattern.sub("", text).strip(" ,-"):
            return canonical
    return None


def company_key(name: str) -> str:
    """Comparison key: legal form and status removed, umlauts folded, "&"/"und"/"and" dropped."""
    text = clean_text(name)
    if text is None:
        return ""
    text = _STATUS.sub("", text)
    for pattern, _canonical in _legal_form_patterns():
        stripped = pattern.sub("", text).strip(" ,-")
        if stripped != text and stripped:
            text = stripped
            break
    words = [word for word in fold(text).split() if word not in _CONNECTORS]
    return " ".join(words) if words else fold(name)


@functools.cache
def _legal_form_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((_pattern_for(spelling), canonical) for spelling, canonical in _LEGAL_FORMS)


def _pattern_for(spelling: str) -> re.Pattern[str]:
    """A loose pattern: dots optional, spacing free, "&" also "und"/"+", umlauts also as "ae"/"oe"/"ue"."""
    pieces: list[str] = []
    for char in spelling:
        if char == ".":
            pieces.append(r"\.?\s*")
        elif char == " ":
            pieces.append(r"\s*")
        elif char == "&":
            pieces.append(r"(?:&|\+|und)")
        elif char in "äöü":
            pieces.append(f"(?:{char}|{ {'ä': 'ae', 'ö': 'oe', 'ü': 'ue'}[char] })")
        else:
            pieces.append(re.escape(char))
    # The form must stand as its own word(s) at the end; "Saag" does not end in "AG".
    return re.compile(r"(?:^|(?<=[\s,(-]))" + "".join(pieces) + r"\s*$", re.IGNORECASE)

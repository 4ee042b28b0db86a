"""Country names and codes to ISO 3166-1 alpha-2."""

from __future__ import annotations

import functools
import gettext
import re

import pycountry

from einklang.normalize.errors import InvalidValue
from einklang.normalize.text import clean_text, fold

# Colloquial and historical names that neither pycountry nor its German translation know,
# plus the international vehicle codes printed on German letters ("D-10115 Berlin").
_ALIASES: dict[str, str] = {
    "D": "DE",
    "A": "AT",
    "F": "FR",
    "I": "IT",
    "B": "BE",
    "L": "LU",
    "E": "ES",
    "P": "PT",
    "S": "SE",
    "N": "NO",
    "H": "HU",
    "FL": "LI",
    "UK": "GB",
    "BRD": "DE",
    "Bundesrepublik": "DE",
    "Bundesrepublik Deutschland": "DE",
    "Deutschland": "DE",
    "Germany": "DE",
    "Federal Republic of Germany": "DE",
    "Republik Österreich": "AT",
    "Schweizerische Eidgenossenschaft": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
    "Switzerland": "CH",
    "Holland": "NL",
    "Großbritannien": "GB",
    "Great Britain": "GB",
    "England": "GB",
    "Schottland": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Nordirland": "GB",
    "Vereinigtes Königreich": "GB",
    "USA": "US",
    "U.S.A.": "US",
    "United States of America": "US",
    "Vereinigte Staaten von Amerika": "US",
    "Amerika": "US",
    "America": "US",
    "Russland": "RU",
    "Russia": "RU",
    "Tschechei": "CZ",
    "Tschechien": "CZ",
    "Czech Republic": "CZ",
    "Türkei": "TR",
    "Turkey": "TR",
    "Südkorea": "KR",
    "South Korea": "KR",
    "Korea": "KR",
    "Nordkorea": "KP",
    "North Korea": "KP",
    "Iran": "IR",
    "Vietnam": "VN",
    "Taiwan": "TW",
    "Bolivien": "BO",
    "Venezuela": "VE",
    "Tansania": "TZ",
    "Moldau": "MD",
    "Moldawien": "MD",
    "Elfenbeinküste": "CI",
    "Ivory Coast": "CI",
    "Kapverden": "CV",
    "Weißrussland": "BY",
    "Belarus": "BY",
    "Mazedonien": "MK",
    "Macedonia": "MK",
    "Vatikan": "VA",
    "Vatican": "VA",
    # Names in the countries' own languages, as address books in those countries write them.
    "België": "BE",
    "Belgique": "BE",
    "Belgien": "BE",
    "Nederland": "NL",
    "Schweiz": "CH",
    "Österreich": "AT",
    "España": "ES",
    "Italia": "IT",
    "Polska": "PL",
    "Česko": "CZ",
    "Česká republika": "CZ",
    "Danmark": "DK",
    "Norge": "NO",
    "Sverige": "SE",
    "Suomi": "FI",
    "Magyarország": "HU",
    "Hrvatska": "HR",
    "Slovensko": "SK",
    "Slovenija": "SI",
    "Ελλάδα": "GR",
    "Türkiye": "TR",
    "Россия": "RU",
    "中国": "CN",
    "日本": "JP",
}


def normalize_country(raw: str) -> str:
    """Return the ISO 3166-1 alpha-2 code for a code (DE, DEU, D, 276) or an English or German name.

    Case, umlauts and punctuation do not matter ("oesterreich", "ÖSTERREICH").  Raises InvalidValue.
    """
    text = clean_text(raw)
    if text is None:
        raise InvalidValue("empty country", raw)
    code = _codes().get(text.upper())
    if code is None:
        code = _names().get(fold(text))
    if code is None:
        raise InvalidValue("unknown country", raw)
    return code


@functools.cache
def _codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    for country in pycountry.countries:
        codes[country.alpha_2] = country.alpha_2
        codes[country.alpha_3] = country.alpha_2
        codes[country.numeric] = country.alpha_2
        codes[str(int(country.numeric))] = country.alpha_2
    for alias, alpha_2 in _ALIASES.items():
        if alias.isupper() and len(alias) <= 3:
            codes.setdefault(alias, alpha_2)
    return codes


@functools.cache
def _names() -> dict[str, str]:
    """Folded name -> alpha-2, built once from pycountry's data and its German translation."""
    german = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["de"], fallback=True)
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            english = getattr(country, attribute, None)
            if not english:
                continue
            for spelling in (english, german.gettext(english)):
                names.setdefault(fold(spelling), country.alpha_2)
    # Aliases win over generated names: they were chosen by hand.
    for alias, alpha_2 in _ALIASES.items():
        names[fold(alias)] = alpha_2
    return names


# A US state (code or name) or a Canadian province beside a postal code of that country's shape
# names the country even when the address has no country line (a US exporter rarely writes "USA"
# under a US address). The subdivisions come from pycountry (ISO 3166-2).
_POSTAL_CODE_SHAPES = {"US": re.compile(r"^\d{5}(?:-\d{4})?$"), "CA": re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$", re.I)}


@functools.cache
def _subdivision_keys(country: str) -> frozenset[str]:
    """ "MO" and "missouri" for each state of ``country`` (codes upper case, names folded)."""
    keys: set[str] = set()
    for subdivision in pycountry.subdivisions:
        if subdivision.country_code != country:
            continue
        keys.add(subdivision.code.split("-", 1)[1])
        keys.add(fold(subdivision.name))
    return frozenset(keys)


def country_from_region(region: str | None, postal_code: str | None) -> str | None:
    """ "US" or "CA" when the region is a US state (code or name) or a Canadian province code and
    the postal code has that country's shape ("MO", "64118"); otherwise None.

    Both must fit: a German five-digit postal code alone says nothing, and no German state is
    abbreviated like a US one.
    """
    state = (clean_text(region) or "").replace(".", "")
    code = clean_text(postal_code) or ""
    if not state or not code:
        return None
    for country, shape in _POSTAL_CODE_SHAPES.items():
        keys = _subdivision_keys(country)
        if (state.upper() in keys or fold(state) in keys) and shape.match(code):
            return country
    return None

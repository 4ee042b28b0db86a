"""Person names: parse into parts, join, and a comparison key."""

from __future__ import annotations

import dataclasses
import re

from einklang.normalize.errors import InvalidValue
from einklang.normalize.text import clean_text, fold

_SALUTATIONS: dict[str, str] = {
    "herr": "Herr",
    "hr": "Herr",
    "herrn": "Herr",
    "frau": "Frau",
    "fr": "Frau",
    "mr": "Mr",
    "mister": "Mr",
    "ms": "Ms",
    "mrs": "Mrs",
    "miss": "Miss",
}
# Words that start an academic or professional title.
_TITLE_WORDS = frozenset({"dr", "prof", "professor", "doktor", "ing", "mag", "dipl", "lic", "priv", "doz"})
# Words that only continue a title ("Dr. med. dent.", "Dr. rer. nat.", "Prof. Dr. h.c. mult.").
_TITLE_CONTINUATIONS = frozenset(
    {"med", "dent", "vet", "rer", "nat", "pol", "jur", "phil", "oec", "pharm", "theol", "habil", "hc", "mult"}
)
# "Dipl.-Ing.", "Dipl.-Kfm.", "Dr.-Ing.", "Dr.med.", "Dr.rer.nat.", "Prof.Dr.": a dot or hyphen is needed
# so that first names like "Drew" are never taken for titles.
_COMPOUND_TITLE = re.compile(r"^(?:dr|dipl|prof|mag|ing|priv)[.-]", re.I)
_SUFFIXES = frozenset(
    {"jr", "jun", "sr", "sen", "ii", "iii", "iv", "phd", "ph.d", "mba", "msc", "m.sc", "bsc", "b.sc", "mdb"}
)
_PARTICLE_WORDS = frozenset(
    {
        "von", "vom", "zu", "zum", "zur", "van", "de", "der", "den", "dem", "des", "del", "della",
        "di", "da", "do", "dos", "das", "du", "la", "le", "ten", "ter", "af", "av", "y", "st", "st.",
    }
)  # fmt: skip
# Only inside a particle run: "von und zu Guttenberg".
_PARTICLE_JOINERS = frozenset({"und"})


@dataclasses.dataclass(frozen=True, slots=True)
class PersonName:
    salutation: str | None = None
    title: str | None = None
    first: str | None = None
    middle: str | None = None
    particle: str | None = None
    last: str | None = None
    suffix: str | None = None

    @property
    def given_names(self) -> str | None:
        """First and middle names together, as a "first name" field of most systems wants them."""
        return _join(self.first, self.middle)

    @property
    def family_name(self) -> str | None:
        """Particle and last name together ("von Müller"), as a "last name" field wants them."""
        return _join(self.particle, self.last)

    def display(self) -> str:
        return join_person_name(
            self.first,
            self.last,
            middle=self.middle,
            particle=self.particle,
            title=self.title,
            salutation=self.salutation,
            suffix=self.suffix,
        )


def parse_person_name(raw: str) -> PersonName:
    """Split "Herr Prof. Dr. Hans-Peter von Müller", "Müller, Hans" or "von der Heide, Dr. Anna".

    A single word is taken as the last name.  Raises InvalidValue for a name without any word.
    """
    text = clean_text(raw)
    if text is None or not any(ch.isalpha() for ch in text):
        raise InvalidValue("empty name", raw)
    family_part, given_part, comma_suffix = _split_at_comma(text)
    if family_part is not None:
        # "Nachname, Vorname": the family part may carry a particle; titles sit in the given part.
        salutation, title, given_tokens = _take_prefix(given_part.split())
        given_tokens, trailing_suffix = _take_suffix(given_tokens)
        family_tokens = family_part.split()
        given_tokens, trailing_particle = _take_trailing_particle(given_tokens)
        particle_tokens, last_tokens = _take_leading_particle(family_tokens)
        if trailing_particle and not particle_tokens:
            particle_tokens = trailing_particle
        return PersonName(
            salutation=salutation,
            title=title,
            first=given_tokens[0] if given_tokens else None,
            middle=_join(*given_tokens[1:]),
            particle=_join(*particle_tokens),
            last=_join(*last_tokens),
            suffix=_join(trailing_suffix, comma_suffix),
        )
    salutation, title, tokens = _take_prefix(given_part.split())
    tokens, suffix = _take_suffix(tokens)
    suffix = _join(suffix, comma_suffix)
    if not tokens:
        return PersonName(salutation=salutation, title=title, suffix=suffix)
    if len(tokens) == 1:
        return PersonName(salutation=salutation, title=title, last=tokens[0], suffix=suffix)
    if _is_particle(tokens[0]):
        # "von Müller" alone: a family name with particle and no given name.
        particle_tokens, last_tokens = _take_leading_particle(tokens)
        return PersonName(
            salutation=salutation,
            title=title,
            particle=_join(*particle_tokens),
            last=_join(*last_tokens),
            suffix=suffix,
        )
    particle_start = next((i for i in range(1, len(tokens) - 1) if _is_particle(tokens[i])), None)
    if particle_start is None:
        given_tokens, particle_tokens, last_tokens = tokens[:-1], [], tokens[-1:]
    else:
        given_tokens = tokens[:particle_start]
        particle_tokens, last_tokens = _take_leading_particle(tokens[particle_start:])
    return PersonName(
        salutation=salutation,
        title=title,
        first=given_tokens[0],
        middle=_join(*given_tokens[1:]),
        particle=_join(*particle_tokens),
        last=_join(*last_tokens),
        suffix=suffix,
    )


def join_person_name(
    first: str | None,
    last: str | None,
    *,
    middle: str | None = None,
    particle: str | None = None,
    title: str | None = None,
    salutation: str | None = None,
    suffix: str | None = None,
) -> str:
    """The display form "Herr Dr. Hans Peter von Müller Jr."; empty parts are left out."""
    parts = (salutation, title, first, middle, particle, last, suffix)
    return " ".join(cleaned for part in parts if (cleaned := clean_text(part)))


def split_full_name(full: str) -> tuple[str | None, str | None]:
    """(first name incl. middle names, last name incl. particle); salutation and titles are dropped."""
    name = parse_person_name(full)
    return name.given_names, name.family_name


def split_name_prefix(prefix: str) -> tuple[str | None, str | None]:
    """Split a name prefix field such as Outlook's "Anrede"/"Title" ("Herr Dr.") into (salutation, title)."""
    text = clean_text(prefix)
    if text is None:
        return None, None
    salutations = [_SALUTATIONS[key] for token in text.split() if (key := _bare(token)) in _SALUTATIONS]
    rest = [token for token in text.split() if _bare(token) not in _SALUTATIONS]
    return (salutations[0] if salutations else None), _join(*rest)


def normalize_salutation(raw: str) -> str | None:
    """ "Hr." -> "Herr", "mrs" -> "Mrs"; None when the text is no known salutation."""
    text = clean_text(raw)
    if text is None:
        return None
    return _SALUTATIONS.get(_bare(text))


def name_key(name: str | PersonName) -> str:
    """Comparison key from first, middle and last name: folded, without salutation, title and particle."""
    if isinstance(name, str):
        try:
            name = parse_person_name(name)
        except InvalidValue:
            return ""
    return fold(" ".join(part for part in (name.first, name.middle, name.last) if part))


def _split_at_comma(text: str) -> tuple[str | None, str, str | None]:
    """(family part or None, rest, suffix after a comma); "Müller, Hans" vs "Hans Müller, Jr."."""
    if "," not in text:
        return None, text, None
    before, after = (part.strip() for part in text.split(",", 1))
    after_tokens = after.split()
    if after_tokens and all(_is_suffix(token) for token in after_tokens):
        return None, before, after
    if not before:
        return None, after, None
    # "Müller, Hans, Jr.": a suffix may follow a second comma.
    after, _, extra = after.partition(",")
    extra = extra.strip()
    if extra and not all(_is_suffix(token) for token in extra.split()):
        after = f"{after} {extra}"
        extra = ""
    return before, after.strip(), extra or None


def _take_prefix(tokens: list[str]) -> tuple[str | None, str | None, list[str]]:
    salutation = None
    title_tokens: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        bare = _bare(token)
        if salutation is None and not title_tokens and bare in _SALUTATIONS:
            salutation = _SALUTATIONS[bare]
        elif (
            bare in _TITLE_WORDS
            or _COMPOUND_TITLE.match(token)
            or (title_tokens and (bare in _TITLE_CONTINUATIONS or token.lower() in {"h.c.", "h. c."}))
        ):
            title_tokens.append(token)
        else:
            break
        index += 1
    return salutation, _join(*title_tokens), tokens[index:]


def _take_suffix(tokens: list[str]) -> tuple[list[str], str | None]:
    end = len(tokens)
    while end > 1 and _is_suffix(tokens[end - 1]):
        end -= 1
    return tokens[:end], _join(*tokens[end:])


def _take_leading_particle(tokens: list[str]) -> tuple[list[str], list[str]]:
    """("von der", "Heide") from "von der Heide"; the last token is always kept as the name."""
    end = 0
    while end < len(tokens) - 1 and (
        _is_particle(tokens[end]) or (end > 0 and tokens[end].lower() in _PARTICLE_JOINERS)
    ):
        end += 1
    return tokens[:end], tokens[end:]


def _take_trailing_particle(tokens: list[str]) -> tuple[list[str], list[str]]:
    """ "Müller, Hans von": the particle written after the given name belongs to the family name."""
    start = len(tokens)
    while start > 1 and _is_particle(tokens[start - 1]):
        start -= 1
    return tokens[:start], tokens[start:]


def _is_particle(token: str) -> bool:
    return token.lower() in _PARTICLE_WORDS


def _is_suffix(token: str) -> bool:
    return token.lower().rstrip(".") in _SUFFIXES


def _bare(token: str) -> str:
    return token.lower().replace(".", "").replace(" ", "")


def _join(*parts: str | None) -> str | None:
    return " ".join(part for part in parts if part) or None

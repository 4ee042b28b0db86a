"""vCard 2.1, 3.0 and 4.0 files, streamed card by card.

Order of decoding, as the formats demand: unfold (continuation lines starting with a space or tab,
and vCard 2.1 quoted-printable soft breaks "=" at the end of a line, whose next line has no
leading space), then decode quoted-printable, then decode the bytes with the property's own
CHARSET, then split structured values (N, ADR, ORG) at unescaped ";" and unescape.

The file is read as bytes (viewed as latin-1 text, one character per byte), so unfolding joins
bytes: a line folded inside a UTF-8 multi-byte character (as some servers write) joins whole
again before it is decoded.  Each property is decoded on its own -- its CHARSET, else UTF-8, else
Windows-1252 -- so one card in another charset garbles nothing else.  Line ends are LF, CRLF or
the CR CR LF of iOS exports.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import dataclasses
import io
import quopri
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

from einklang.importer.readers.assemble import assemble, first_free
from einklang.importer.readers.model import ContactFormat, ContactRow, Problem, ReaderError
from einklang.importer.readers.mojibake import decode_value

_ENCODING_WORDS = frozenset({"QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"})
_VERSIONS: dict[str, ContactFormat] = {"2.1": "vcard-2.1", "3.0": "vcard-3.0", "4.0": "vcard-4.0"}
_ESCAPES = {"n": "\n", "N": "\n", ",": ",", ";": ";", "\\": "\\", ":": ":"}
_PREF_NUMBER = re.compile(r"^\d+$")


@dataclasses.dataclass(slots=True)
class _Property:
    name: str
    params: dict[str, list[str]]
    value: str
    line: int
    decoding_note: str | None = None
    group: str = ""
    """Apple's and Google's ``item1.`` prefix; an ``item1.X-ABLabel`` names the kind of ``item1.TEL``."""
    """Set when the value's bytes needed a repair or could not be decoded cleanly (reported)."""

    @property
    def types(self) -> set[str]:
        return {value.lower() for value in self.params.get("TYPE", [])}

    @property
    def preference(self) -> int:
        """Lower is preferred: vCard 4.0 PREF=1..100, older TYPE=pref; unmarked values last."""
        pref = self.params.get("PREF", [])
        if pref and _PREF_NUMBER.match(pref[0]):
            return int(pref[0])
        return 0 if "pref" in self.types else 101


@dataclasses.dataclass(slots=True)
class _Card:
    line: int
    properties: list[_Property] = dataclasses.field(default_factory=list)
    binary_skipped: int = 0


def read_vcard_rows(path: Path, source: str, encoding: str | None = None) -> Iterator[ContactRow | Problem]:
    """The cards of a vCard file; ``encoding`` only for a file-wide UTF-16 (or a caller's override).

    Without it, each property is decoded by itself (see the module docstring).
    """
    try:
        file = path.open("rb")
    except OSError as error:
        raise ReaderError(source, f"cannot read file: {error.strerror or error}") from None
    with file:
        yield from _cards(_logical_lines(_byte_lines(file, encoding)), source)


def _byte_lines(file: IO[bytes], encoding: str | None) -> Iterator[str]:
    """Physical lines as latin-1 text (one character per byte), split at LF only.

    Splitting at LF alone keeps a CR CR LF line end one line end (``rstrip`` removes the CRs).  A
    file-wide text encoding that is not ASCII-compatible (UTF-16) is transcoded to UTF-8 first;
    an explicit override is applied the same way, so the per-property decoding then sees UTF-8.
    """
    if encoding and codecs.lookup(encoding).name not in _ASCII_COMPATIBLE:
        text = io.TextIOWrapper(file, encoding=encoding, errors="replace", newline="\n")
        for line in text:
            yield line.encode("utf-8").decode("latin-1")
        return
    first = True
    for raw in file:
        if first:
            raw = raw.removeprefix(codecs.BOM_UTF8)
            first = False
        yield raw.decode("latin-1")


_ASCII_COMPATIBLE = frozenset({"utf-8", "utf-8-sig", "cp1252", "iso8859-1", "ascii", "latin-1", "iso8859-15"})
_BINARY_PROPERTIES = frozenset({"PHOTO", "LOGO", "SOUND", "KEY"})
_BINARY_ENCODINGS = frozenset({"B", "BASE64"})


class _Logical(NamedTuple):
    """One content line after unfolding; a binary value einklang does not use is left out (``skipped``)."""

    line: int
    text: str
    skipped: bool = False


class _Gathering:
    """The physical pieces of one logical line, joined once at the end (linear in its length)."""

    __slots__ = ("head", "last_char", "line", "pieces", "qp", "skip")

    def __init__(self, line: int, text: str) -> None:
        self.line = line
        self.pieces: list[str] = []
        self.head: list[str] | None = []  # the text before the first ":" while it is not complete
        self.qp = False
        self.skip = False
        self.last_char = ""
        self.add(text)
        if self.head is None and _is_binary(text):
            # The value is inline binary (PHOTO;ENCODING=b:..., PHOTO:data:...): keep only "NAME;PARAMS:".
            self.skip = True
            self.pieces = [text[: _find_unquoted(text, ":") + 1]]

    def add(self, piece: str) -> None:
        if self.skip:
            return
        if piece:
            self.last_char = piece[-1]
        self.pieces.append(piece)
        if self.head is not None:
            colon = piece.find(":")
            if colon < 0:
                self.head.append(piece)
            else:
                self.head.append(piece[:colon])
                self.qp = _is_qp("".join(self.head) + ":")
                self.head = None

    def ends_with_soft_break(self) -> bool:
        """vCard 2.1 quoted-printable: the text so far ends with "=" after the ":" of a QP property."""
        return not self.skip and self.head is None and self.qp and self.last_char == "="

    def drop_soft_break(self) -> None:
        while not self.pieces[-1]:
            self.pieces.pop()
        self.pieces[-1] = self.pieces[-1][:-1]
        self.last_char = self.pieces[-1][-1:] or next((p[-1] for p in reversed(self.pieces) if p), "")

    def result(self) -> _Logical:
        return _Logical(self.line, "".join(self.pieces), self.skip)


def _logical_lines(physical: Iterable[str]) -> Iterator[_Logical]:
    """(start line, unfolded text, skipped) for each content line.

    Each physical line is looked at once and the pieces are joined once per content line, so
    unfolding is linear in the size of the file however long a folded value is; the value of a
    binary property (PHOTO, LOGO, SOUND, KEY inline as base64) is not even gathered.
    """
    pending: _Gathering | None = None
    for number, raw in enumerate(physical, start=1):
        line = raw.rstrip("\r\n")
        if pending is not None:
            if pending.ends_with_soft_break() and not line.upper().startswith("END:VCARD"):
                pending.drop_soft_break()
                pending.add(line)
                continue
            if line[:1] in (" ", "\t"):
                pending.add(line[1:])
                continue
            yield pending.result()
        pending = _Gathering(number, line)
    if pending is not None:
        yield pending.result()


def _is_binary(first_line: str) -> bool:
    """Whether a content line (its first physical line) is an inline binary PHOTO, LOGO, SOUND or KEY."""
    name_end = min((index for index in (first_line.find(":"), first_line.find(";")) if index >= 0), default=-1)
    if first_line[:name_end].rsplit(".", 1)[-1].strip().upper() not in _BINARY_PROPERTIES:
        return False  # the cheap test first: most lines are other properties
    colon = _find_unquoted(first_line, ":")
    if colon <= 0:
        return False
    parts = _split_unquoted(first_line[:colon], ";")
    if parts[0].rsplit(".", 1)[-1].strip().upper() not in _BINARY_PROPERTIES:
        return False
    for part in parts[1:]:
        key, equals, value = part.partition("=")
        key = key.strip().upper()
        if (equals and key == "ENCODING" and value.strip().strip('"').upper() in _BINARY_ENCODINGS) or (
            not equals and key in _BINARY_ENCODINGS
        ):
            return True
    return first_line[colon + 1 : colon + 6].lower() == "data:"


def _is_qp(text: str) -> bool:
    head = text.split(":", 1)[0].upper()
    return "QUOTED-PRINTABLE" in head


def _cards(lines: Iterable[_Logical], source: str) -> Iterator[ContactRow | Problem]:
    card: _Card | None = None
    row_number = 0
    outside_reported = False
    for line, text, skipped in lines:
        if not text.strip():
            continue
        parsed = _parse_content_line(text, line)
        if parsed is None:
            if card is not None:
                yield Problem(
                    source, line, row_number, None, _shown(text), "not a vCard property; line ignored", "warning"
                )
            elif not outside_reported:
                outside_reported = True
                yield Problem(source, line, None, None, _shown(text), "text outside BEGIN:VCARD ... END:VCARD")
            continue
        name, value = parsed.name, parsed.value.strip()
        if name == "BEGIN" and value.upper() == "VCARD":
            if card is not None:
                yield Problem(source, card.line, row_number, None, None, "card has no END:VCARD", "warning")
                yield from _finished(card, source, row_number)
            row_number += 1
            card = _Card(line)
            outside_reported = False
        elif name == "END" and value.upper() == "VCARD":
            if card is not None:
                yield from _finished(card, source, row_number)
                card = None
        elif card is None:
            if not outside_reported:
                outside_reported = True
                yield Problem(source, line, None, None, _shown(text), "text outside BEGIN:VCARD ... END:VCARD")
        else:
            card.properties.append(parsed)
            card.binary_skipped += skipped
            if parsed.decoding_note:
                yield Problem(source, line, row_number, parsed.name, parsed.value[:80], parsed.decoding_note, "warning")
    if card is not None:
        yield Problem(source, card.line, row_number, None, None, "card has no END:VCARD (file ends)", "warning")
        yield from _finished(card, source, row_number)


def _shown_value(text: str) -> str:
    """A decoded value on one line, for a message."""
    return " / ".join(line.strip() for line in _unescape(text).splitlines() if line.strip())[:80]


def _shown(text: str) -> str:
    """A raw line (latin-1 view of its bytes) as a person should see it in a message."""
    return text[:120].encode("latin-1").decode("utf-8", errors="replace")[:80]


def _parse_content_line(text: str, line: int) -> _Property | None:
    """``group.NAME;PARAM=x;BARE:value`` -> _Property, or None if there is no name and colon."""
    colon = _find_unquoted(text, ":")
    if colon <= 0:
        return None
    head, value = text[:colon], text[colon + 1 :]
    parts = _split_unquoted(head, ";")
    name = parts[0].rsplit(".", 1)[-1].strip().upper()
    # "_" is not in the grammar, but Windows Contacts writes X-WAB-WEDDING_ANNIVERSARY
    if not name or not re.fullmatch(r"[A-Z0-9_-]+", name):
        return None
    params: dict[str, list[str]] = {}
    for part in parts[1:]:
        key, equals, raw_values = part.partition("=")
        if equals:
            values = [item.strip().strip('"') for item in _split_unquoted(raw_values, ",")]
            if key.strip().upper() == "TYPE":
                # TYPE="voice,home" (quoted, as RFC 6350's examples write it) is a list too
                values = [kind.strip() for value in values for kind in value.split(",") if kind.strip()]
            params.setdefault(key.strip().upper(), []).extend(values)
        elif key.strip().upper() in _ENCODING_WORDS:
            params.setdefault("ENCODING", []).append(key.strip())  # vCard 2.1 bare "QUOTED-PRINTABLE"
        elif key.strip():
            # vCard 2.1 bare types ("WORK", "CELL"), also as a list: "TEL;FAX,WORK:..."
            params.setdefault("TYPE", []).extend(item.strip() for item in key.split(",") if item.strip())
    text, note = _decode(value, params, name)
    group = parts[0].rsplit(".", 1)[0].strip().lower() if "." in parts[0] else ""
    return _Property(name, params, text, line, note, group)


def _decode(value: str, params: dict[str, list[str]], name: str) -> tuple[str, str | None]:
    """The value's text from its bytes (``value`` is their latin-1 view) and a note if it needed care.

    Text in base64 (``NOTE;ENCODING=b:...``, as some exporters write it) is decoded like any other
    text; binary values (PHOTO, LOGO, SOUND, KEY) stay as they are and are never used.
    """
    data = value.encode("latin-1")
    encodings = {item.upper() for item in params.get("ENCODING", [])}
    if encodings & {"QUOTED-PRINTABLE", "QP"}:
        data = quopri.decodestring(data)
    elif encodings & _BINARY_ENCODINGS and name not in _BINARY_PROPERTIES:
        try:
            data = base64.b64decode(b"".join(data.split()), validate=True)
        except binascii.Error:
            return value, f"{name} says base64 but is not; read as it stands"
    return decode_value(data, params.get("CHARSET", [])[:1])


_KIND_PROPERTIES = frozenset({"KIND", "X-ADDRESSBOOKSERVER-KIND"})
_READ_PROPERTIES = frozenset(
    {"N", "FN", "ORG", "TITLE", "ROLE", "ADR", "TEL", "EMAIL", "URL", "BDAY", "NOTE", "CATEGORIES", "VERSION"}
)
_EMAIL_LIKE = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")


def _finished(card: _Card, source: str, row_number: int) -> Iterator[ContactRow | Problem]:
    """The card's row, then a warning for each property einklang does not read that holds an address.

    An instant-messaging, SIP or related-person value with an "@" is no e-mail field of the
    contact, but a person should know it was not taken (no address disappears unmentioned).
    A group card (vCard 4.0 ``KIND:group``, Apple's ``X-ADDRESSBOOKSERVER-KIND:group``) lists
    other cards, it is no contact: it is left out, saying so.
    """
    kind = next(
        (prop.value.strip().casefold() for prop in card.properties if prop.name in _KIND_PROPERTIES), "individual"
    )
    if kind == "group":
        name = next((prop.value for prop in card.properties if prop.name == "FN"), "")
        message = f"a contact group{f' ({name!r})' if name else ''}, not a contact: left out"
        yield Problem(source, card.line, row_number, "KIND", kind, message, "warning", record_lost=True)
        return
    yield _row(card, source, row_number)
    for prop in card.properties:
        if prop.name == "ADR" and (moved := _address_parts(prop.value))[1]:
            street, city, region, postal_code = (moved[0][index] for index in (2, 3, 4, 5))
            shown = ", ".join(part for part in (street, postal_code, city, region) if part)
            message = f"ADR has {len(_components(prop.value))} of its 7 parts; read as {shown!r}: check the address"
            yield Problem(source, prop.line, row_number, "ADR", prop.value, message, "warning")
        if prop.name == "LABEL" and _label_is_the_address(card) and prop.value.strip():
            message = "the card has no ADR: its address was read from LABEL (the printed form); check it"
            yield Problem(source, prop.line, row_number, "LABEL", _shown_value(prop.value), message, "warning")
        if prop.name in _READ_PROPERTIES:
            continue
        found = _EMAIL_LIKE.search(prop.value)
        if found:
            yield Problem(
                source,
                prop.line,
                row_number,
                prop.name,
                found.group(0),
                f"{prop.name} is not read: {found.group(0)!r} is not taken as an e-mail address of the contact",
                "warning",
            )


# Words of an X-ABLabel ("homeFax", "_$!<Mobile>!$_", "iPhone") and the TYPE they mean.
_LABEL_TYPES = (("fax", "fax"), ("mobile", "cell"), ("iphone", "cell"), ("cell", "cell"), ("pager", "pager"))
_LABEL_PLACES = (("home", "home"), ("work", "work"), ("privat", "home"), ("arbeit", "work"))


def _apply_labels(properties: list[_Property]) -> None:
    """Give ``item1.TEL`` the types its ``item1.X-ABLabel`` names, so a labelled fax stays a fax."""
    labels = {prop.group: prop.value.casefold() for prop in properties if prop.name == "X-ABLABEL" and prop.group}
    for prop in properties:
        label = labels.get(prop.group) if prop.group and prop.name != "X-ABLABEL" else None
        if not label:
            continue
        for word, kind in (*_LABEL_TYPES, *_LABEL_PLACES):
            if word in label and kind not in prop.types:
                prop.params.setdefault("TYPE", []).append(kind)


def _row(card: _Card, source: str, row_number: int) -> ContactRow:
    version = next((prop.value.strip() for prop in card.properties if prop.name == "VERSION"), "")
    contact_format = _VERSIONS.get(version, "vcard-3.0")
    _apply_labels(card.properties)
    slots: dict[str, str] = {}
    label_is_address = _label_is_the_address(card)
    # Apple's company card: FN is the name shown for the company ("The Company" beside
    # "ORG:Die Firma"), no person's name; a person given in N is still read.
    shown_as_company = any(
        prop.name == "X-ABSHOWAS" and prop.value.strip().upper() == "COMPANY" for prop in card.properties
    )
    shown_name = ""
    for prop in sorted(card.properties, key=lambda prop: prop.preference):
        if prop.name == "FN" and shown_as_company:
            shown_name = _unescape(prop.value).strip()
            continue
        if prop.name == "LABEL" and label_is_address:
            _fill_label(slots, prop)
        else:
            _fill(slots, prop)
    if shown_name and "company" not in slots:
        slots["company"] = shown_name  # a company card without ORG: its FN is the company's name
    fields, unplaced = assemble(slots)
    return ContactRow(source, row_number, card.line, contact_format, fields, card.binary_skipped, unplaced)


def _fill(slots: dict[str, str], prop: _Property) -> None:
    name, types = prop.name, prop.types
    if name == "N":
        components = _components(prop.value)
        for slot, component in zip(
            ("last_name", "first_name", "middle_name", "prefix", "suffix"), components, strict=False
        ):
            words = " ".join(item for item in _list_items(component) if item)
            if words:
                slots.setdefault(slot, words)
    elif name == "FN":
        slots.setdefault("full_name", _unescape(prop.value))
    elif name == "ORG":
        # ORG is positional: the organisation, then its units. An empty first part (iCloud's
        # "ORG:;Department;SubDep1") means no company is given, not that the unit is one.
        company, *units = [_unescape(item).strip() for item in _split_unescaped(prop.value, ";")]
        units = [unit for unit in units if unit]
        if company:
            slots.setdefault("company", company)
        if units:
            slots.setdefault("department", ", ".join(units))
    elif name in {"TITLE", "ROLE"}:
        slots.setdefault("position", _unescape(prop.value))
    elif name == "ADR":
        _fill_address(slots, prop)
    elif name == "TEL":
        number = re.sub(r"^tel:", "", prop.value.strip(), flags=re.I)
        unplaced = "phone.unplaced"
        if "cell" in types:
            first_free(slots, ("mobile", "phone.mobile2"), number, unplaced)
        elif "fax" in types:
            faxes = ("fax", "fax.home", "fax.other") if "home" not in types else ("fax.home", "fax.other")
            first_free(slots, faxes, number, unplaced)
        elif "pager" in types:
            first_free(slots, (), number, unplaced)  # no field for a pager: listed, not dropped
        elif "work" in types:
            first_free(slots, ("phone.business", "phone.business2", "phone.other"), number, unplaced)
        elif "home" in types:
            first_free(slots, ("phone.home", "phone.home2", "phone.other"), number, unplaced)
        else:
            first_free(slots, ("phone.other", "phone.primary", "phone.home2"), number, unplaced)
    elif name == "EMAIL":
        first_free(slots, ("email", "email2", "email3"), prop.value.strip(), "email.extra")
    elif name == "URL":
        slots.setdefault("website", _unescape(prop.value))
    elif name == "BDAY":
        birthday = prop.value.strip()
        omitted_year = prop.params.get("X-APPLE-OMIT-YEAR", [])
        if omitted_year and birthday.startswith(omitted_year[0]):
            # Apple (and CardBook) write a birthday without a year with a placeholder year.
            birthday = "--" + birthday[len(omitted_year[0]) :].lstrip("-")
        slots.setdefault("birthday", birthday)
    elif name == "NOTE":
        slots.setdefault("notes", _unescape(prop.value))
    elif name == "CATEGORIES":
        categories = [_unescape(item).strip() for item in _split_unescaped(prop.value, ",")]
        if any(categories):
            slots.setdefault("categories", "; ".join(item for item in categories if item))
    for key in [key for key, value in slots.items() if not value.strip()]:
        del slots[key]


def _label_is_the_address(card: _Card) -> bool:
    """Whether the card's address is only in LABEL (the printed form): it has no ADR."""
    names = {prop.name for prop in card.properties}
    return "LABEL" in names and "ADR" not in names


def _fill_label(slots: dict[str, str], prop: _Property) -> None:
    """A LABEL read as a one-cell address: its lines are split into street, postal code and city."""
    block = "business" if "work" in prop.types else "home" if "home" in prop.types else "other"
    text = _unescape(prop.value).strip()
    if text and not any(key.startswith(block + ".") for key in slots):
        slots[f"{block}.street"] = text


def _fill_address(slots: dict[str, str], prop: _Property) -> None:
    block = "business" if "work" in prop.types else "home" if "home" in prop.types else "other"
    if any(key.startswith(block + ".") for key in slots):
        return
    pobox, extended, street, city, region, postal_code, country = _address_parts(prop.value)[0]
    for part, value in (
        ("street", street),
        ("street2", extended),
        ("pobox", pobox),
        ("city", city),
        ("region", region),
        ("postal_code", postal_code),
        ("country", country),
    ):
        if value:
            slots[f"{block}.{part}"] = value


# A postal code as the last part of a short ADR: digits, perhaps a letter prefix or a ZIP+4.
_POSTAL_CODE_LIKE = re.compile(r"^(?:[A-Z]{1,2}-)?\d{4,5}(?:-\d{4})?$|^[A-Z]\d[A-Z] ?\d[A-Z]\d$", re.I)


def _address_parts(value: str) -> tuple[list[str], bool]:
    """The seven ADR parts (PO box, extended, street, city, region, postal code, country) and
    whether they were moved to fit.

    A short ADR is padded at the end (trailing empty parts are often left out), except when its
    last part is a postal code that would land in an earlier slot ("Suite 101;1 Central St.;Any
    Town;NC;27654", as the vCard 2.1 specification's own example has it): then the parts are moved
    so that the postal code is the postal code -- to the right as a whole, or, when the leading
    empty PO box shows that the front is complete, by leaving the slots before the postal code empty.
    """
    parts = [_unescape(item).strip() for item in _components(value)]
    count = len(parts)
    if 3 <= count < 6 and _POSTAL_CODE_LIKE.match(parts[-1]):
        gap = [""] * (6 - count)
        moved = [*gap, *parts] if parts[0] else [*parts[:-1], *gap, parts[-1]]
        return [*moved, ""], True
    return (parts + [""] * 7)[:7], False


def _components(value: str) -> list[str]:
    return _split_unescaped(value, ";")


def _list_items(component: str) -> list[str]:
    return [_unescape(item).strip() for item in _split_unescaped(component, ",")]


def _split_unescaped(value: str, separator: str) -> list[str]:
    """Split at ``separator`` unless a backslash escapes it; the pieces stay escaped."""
    pieces: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            current.append(value[index : index + 2])
            index += 2
            continue
        if char == separator:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    pieces.append("".join(current))
    return pieces


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda match: _ESCAPES.get(match.group(1), match.group(1)), value)


def _find_unquoted(text: str, target: str) -> int:
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == target and not quoted:
            return index
    return -1


def _split_unquoted(text: str, separator: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == separator and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces

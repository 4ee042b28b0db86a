"""vCard 3.0/4.0 read and written property by property, so that unmapped properties survive."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from einklang.normalize.phone import phone_for_system

FLAT_FIELDS = (
    "uid",
    "name",
    "first_name",
    "last_name",
    "company",
    "title",
    "email",
    "phone",
    "mobile",
    "street",
    "postal_code",
    "city",
    "country",
)
_ADDRESS_FIELDS = ("street", "postal_code", "city", "country")
# ADR components: post office box; extended address; street; locality; region; postal code; country
_ADR_INDEX = {"street": 2, "city": 3, "postal_code": 5, "country": 6}


# --- vCard ----------------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def _split_components(raw: str) -> list[str]:
    """Split a structured value (N, ADR, ORG) on unescaped semicolons, then unescape."""
    return [_unescape(part) for part in re.split(r"(?<!\\);", raw)]


@dataclass
class VCardProperty:
    name: str  # upper case, without group
    params: list[tuple[str, str]]  # (NAME, value) in original order; bare 2.1 params as ("TYPE", v)
    raw_value: str  # escaped, as on the wire
    group: str | None = None

    @property
    def types(self) -> set[str]:
        found: set[str] = set()
        for key, value in self.params:
            if key == "TYPE":
                found.update(part.strip().strip('"').lower() for part in value.split(","))
        return found

    def text(self) -> str:
        return _unescape(self.raw_value)

    def components(self) -> list[str]:
        return _split_components(self.raw_value)

    def serialize(self) -> str:
        head = f"{self.group}.{self.name}" if self.group else self.name
        params = "".join(f";{key}={value}" for key, value in self.params)
        return _fold(f"{head}{params}:{self.raw_value}")


def _fold(line: str) -> str:
    """Fold at 75 octets without splitting a UTF-8 sequence (RFC 6350 3.2)."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    pieces: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode("utf-8")) > limit:
            pieces.append(current)
            current = ""
            limit = 74  # continuation lines start with a space
        current += char
    pieces.append(current)
    return "\r\n ".join(pieces)


@dataclass
class VCard:
    version: str
    properties: list[VCardProperty] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> VCard:
        unfolded = re.sub(r"\r?\n[ \t]", "", text)
        card = cls(version="3.0")
        inside = False
        for line in unfolded.splitlines():
            if not line.strip():
                continue
            head, sep, value = line.partition(":")
            if not sep:
                continue
            name_part, *param_parts = _split_params(head)
            group, _, name = name_part.rpartition(".")
            name = name.upper()
            if name == "BEGIN":
                inside = True
                continue
            if name == "END":
                break
            if not inside:
                continue
            if name == "VERSION":
                card.version = value.strip()
                continue
            params: list[tuple[str, str]] = []
            for param in param_parts:
                key, has_value, param_value = param.partition("=")
                if has_value:
                    params.append((key.upper(), param_value))
                else:
                    params.append(("TYPE", key))  # vCard 2.1: ;CELL;WORK
            card.properties.append(VCardProperty(name, params, value, group or None))
        return card

    def serialize(self) -> str:
        lines = ["BEGIN:VCARD", f"VERSION:{self.version}"]
        lines += [prop.serialize() for prop in self.properties]
        lines.append("END:VCARD")
        return "\r\n".join(lines) + "\r\n"

    def first(self, name: str, predicate: Any = None) -> VCardProperty | None:
        for prop in self.properties:
            if prop.name == name and (predicate is None or predicate(prop)):
                return prop
        return None

    def _ordered(self, name: str, predicate: Any = None) -> list[VCardProperty]:
        candidates = [p for p in self.properties if p.name == name and (predicate is None or predicate(p))]
        # "pref" (3.0 TYPE=pref, 4.0 PREF=1) first, otherwise document order.
        return sorted(candidates, key=lambda p: 0 if "pref" in p.types or ("PREF", "1") in p.params else 1)

    def preferred(self, name: str, predicate: Any = None) -> VCardProperty | None:
        ordered = self._ordered(name, predicate)
        return ordered[0] if ordered else None

    def set_or_remove(self, target: VCardProperty | None, new: VCardProperty | None) -> None:
        if target is not None and new is not None:
            target.raw_value = new.raw_value
        elif target is not None:
            self.properties.remove(target)
        elif new is not None:
            self.properties.append(new)


def _split_params(head: str) -> list[str]:
    # Semicolons inside quoted parameter values do not separate parameters.
    return [part for part in re.findall(r'(?:[^;"]|"[^"]*")+', head)]


def _is_mobile(prop: VCardProperty) -> bool:
    return "cell" in prop.types


def _is_phone(prop: VCardProperty) -> bool:
    return not ({"cell", "fax", "pager"} & prop.types)


def card_to_fields(card: VCard) -> dict[str, Any]:
    def text(prop: VCardProperty | None) -> str | None:
        value = prop.text().strip() if prop else ""
        return value or None

    flat: dict[str, Any] = dict.fromkeys(FLAT_FIELDS)
    flat["uid"] = text(card.first("UID"))
    flat["name"] = text(card.first("FN"))
    n = card.first("N")
    if n:
        parts = n.components() + [""] * 5
        flat["last_name"], flat["first_name"] = parts[0].strip() or None, parts[1].strip() or None
    org = card.first("ORG")
    if org:
        flat["company"] = org.components()[0].strip() or None
    flat["title"] = text(card.first("TITLE"))
    flat["email"] = text(card.preferred("EMAIL"))
    flat["phone"] = text(card.preferred("TEL", _is_phone))
    flat["mobile"] = text(card.preferred("TEL", _is_mobile))
    adr = card.preferred("ADR")
    if adr:
        parts = adr.components() + [""] * 7
        for name, index in _ADR_INDEX.items():
            flat[name] = parts[index].strip() or None
    return flat


def _new_property(name: str, value: str, params: list[tuple[str, str]] | None = None) -> VCardProperty:
    return VCardProperty(name, params or [], value)


def apply_fields(card: VCard, patch: Mapping[str, Any]) -> None:
    """Write the flat fields in ``patch`` into ``card``, touching no property einklang does not map."""
    before = card_to_fields(card)
    after = {**before, **patch}

    def text_value(name: str) -> str | None:
        value = after.get(name)
        return _escape(str(value)) if value not in (None, "") else None

    def phone_value(name: str) -> str | None:
        # An extension as "+49 30 1234567 ext. 102": every address book shows and dials it, and
        # einklang reads it back to the same value (an escaped ";ext=" would not survive others).
        value = after.get(name)
        return _escape(phone_for_system(str(value), "text")) if value not in (None, "") else None

    if "uid" in patch and text_value("uid"):
        card.set_or_remove(card.first("UID"), _new_property("UID", text_value("uid") or ""))
    if ("first_name" in patch or "last_name" in patch) and "name" not in patch:
        # FN follows the name parts when it was their plain join (it was not hand-edited).
        old_join = " ".join(p for p in (before["first_name"], before["last_name"]) if p)
        if before["name"] in (None, old_join):
            after["name"] = " ".join(p for p in (after["first_name"], after["last_name"]) if p) or None
            patch = {**patch, "name": after["name"]}
    if "first_name" in patch or "last_name" in patch:
        n = card.first("N")
        parts = (n.components() if n else []) + [""] * 5
        parts[0], parts[1] = after["last_name"] or "", after["first_name"] or ""
        card.set_or_remove(n, _new_property("N", ";".join(_escape(p) for p in parts[:5])))
    if "name" in patch:
        # FN is mandatory: when einklang clears it, the name parts stand in.
        fallback = " ".join(p for p in (after["first_name"], after["last_name"]) if p) or after["company"] or ""
        card.set_or_remove(card.first("FN"), _new_property("FN", text_value("name") or _escape(fallback)))
    if "company" in patch:
        org = card.first("ORG")
        units = org.components()[1:] if org else []
        value = text_value("company")
        card.set_or_remove(org, _new_property("ORG", ";".join([value, *map(_escape, units)])) if value else None)
    if "title" in patch:
        value = text_value("title")
        card.set_or_remove(card.first("TITLE"), _new_property("TITLE", value) if value else None)
    if "email" in patch:
        value = text_value("email")
        card.set_or_remove(
            card.preferred("EMAIL"), _new_property("EMAIL", value, [("TYPE", "INTERNET")]) if value else None
        )
    if "phone" in patch:
        value = phone_value("phone")
        card.set_or_remove(
            card.preferred("TEL", _is_phone), _new_property("TEL", value, [("TYPE", "WORK,VOICE")]) if value else None
        )
    if "mobile" in patch:
        value = phone_value("mobile")
        card.set_or_remove(
            card.preferred("TEL", _is_mobile), _new_property("TEL", value, [("TYPE", "CELL")]) if value else None
        )
    if any(name in patch for name in _ADDRESS_FIELDS):
        adr = card.preferred("ADR")
        parts = (adr.components() if adr else []) + [""] * 7
        for name, index in _ADR_INDEX.items():
            parts[index] = str(after[name] or "")
        keep = any(parts[:7])
        card.set_or_remove(
            adr, _new_property("ADR", ";".join(_escape(p) for p in parts[:7]), [("TYPE", "WORK")]) if keep else None
        )


def fields_to_card(fields: Mapping[str, Any]) -> VCard:
    card = VCard(version="3.0")
    uid = str(fields.get("uid") or uuid.uuid4())
    card.properties.append(_new_property("UID", _escape(uid)))
    card.properties.append(_new_property("FN", ""))
    card.properties.append(_new_property("N", ";;;;"))
    apply_fields(
        card,
        {
            **{k: v for k, v in fields.items() if k != "uid"},
            "first_name": fields.get("first_name"),
            "last_name": fields.get("last_name"),
            "name": fields.get("name"),
        },
    )
    return card

"""Google Contacts CSV: numbered blocks ("Phone 2 - Type", "Phone 2 - Value") into plain slots.

The number of blocks differs between files, so blocks are discovered from the header.  A cell may
hold several values separated by " ::: "; a type starting with "* " marks the primary value.
Both the classic ("... - Type") and the newer ("... - Label") exports are read.
"""

from __future__ import annotations

from collections import defaultdict

from einklang.importer.readers.assemble import first_free
from einklang.importer.readers.headers import GOOGLE_BLOCK

_SEPARATOR = " ::: "
# Google's own groups; "Friends", "Family", "Coworkers" are labels a person chose and are kept.
_SYSTEM_GROUPS = frozenset({"mycontacts", "starred"})
_ADDRESS_PARTS = {
    "street": "street",
    "extended address": "street2",
    "city": "city",
    "region": "region",
    "postal code": "postal_code",
    "country": "country",
    "po box": "pobox",
}


def google_slots(slots: dict[str, str]) -> dict[str, str]:
    """Replace the ``google.*`` slots by plain ones; other slots are kept."""
    blocks: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    result: dict[str, str] = {}
    for key, value in slots.items():
        match = GOOGLE_BLOCK.match(key.removeprefix("google.")) if key.startswith("google.") else None
        if match:
            kind, number, attribute = match.groups()
            attribute = "type" if attribute == "label" else attribute
            blocks[(kind, int(number))][attribute] = value
        else:
            result[key] = value
    ordered = sorted(blocks.items(), key=lambda item: item[0][1])
    _emails(result, [block for (kind, _n), block in ordered if kind == "e-mail"])
    _phones(result, [block for (kind, _n), block in ordered if kind == "phone"])
    _address(result, [block for (kind, _n), block in ordered if kind == "address"])
    for (kind, _n), block in ordered:
        if kind == "organization":
            for attribute, slot in (("name", "company"), ("title", "position"), ("department", "department")):
                if block.get(attribute):
                    result.setdefault(slot, block[attribute])
        elif kind == "website" and block.get("value"):
            result.setdefault("website", _values(block["value"])[0])
    if "categories" in result:
        groups = [group.strip().removeprefix("* ").strip() for group in result["categories"].split(":::")]
        kept = [
            group
            for group in groups
            if group
            and "".join(group.casefold().split()) not in _SYSTEM_GROUPS
            and not group.casefold().startswith("system group:")
        ]
        if kept:
            result["categories"] = "; ".join(kept)
        else:
            del result["categories"]
    return result


def _values(cell: str) -> list[str]:
    return [value.strip() for value in cell.split(_SEPARATOR) if value.strip()]


def _typed_values(blocks: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(type, value) pairs, the primary ("* Work") first, then in file order."""
    pairs: list[tuple[bool, str, str]] = []
    for block in blocks:
        kind = block.get("type", "").strip()
        primary = kind.startswith("*")
        for value in _values(block.get("value", "")):
            pairs.append((primary, kind.lstrip("* ").casefold(), value))
    pairs.sort(key=lambda pair: not pair[0])
    return [(kind, value) for _primary, kind, value in pairs]


def _emails(result: dict[str, str], blocks: list[dict[str, str]]) -> None:
    for _kind, value in _typed_values(blocks):
        first_free(result, ("email", "email2", "email3"), value, "email.extra")


def _phones(result: dict[str, str], blocks: list[dict[str, str]]) -> None:
    for kind, value in _typed_values(blocks):
        if "fax" in kind:
            first_free(result, ("fax", "fax.home", "fax.other"), value, "phone.unplaced")
        elif kind in {"mobile", "cell"}:
            first_free(result, ("mobile", "phone.mobile2"), value, "phone.unplaced")
        elif kind in {"work", "main"}:
            first_free(result, ("phone.business", "phone.business2", "phone.other"), value, "phone.unplaced")
        elif kind == "home":
            first_free(result, ("phone.home", "phone.home2", "phone.other"), value, "phone.unplaced")
        else:  # a pager has no field of its own: it ends in the listed numbers
            first_free(result, ("phone.other",) if kind != "pager" else (), value, "phone.unplaced")


def _address(result: dict[str, str], blocks: list[dict[str, str]]) -> None:
    for block in blocks:
        kind = block.get("type", "").lstrip("* ").casefold()
        target = {"work": "business", "home": "home"}.get(kind, "other")
        if any(key.startswith(target + ".") for key in result):
            continue
        parts = {slot: block[name] for name, slot in _ADDRESS_PARTS.items() if block.get(name)}
        if not parts.get("street") and block.get("formatted"):
            # Only the formatted address was kept: its first line is the street.
            parts["street"] = block["formatted"].splitlines()[0]
        for slot, value in parts.items():
            result[f"{target}.{slot}"] = value

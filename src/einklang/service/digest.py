"""The text of a digest: new events in one plain-text mail (German or English) or one JSON body.

Pure: events and record names in, text out. Records are named as people know them (customer
number and name, then their ids in the systems), never by golden id alone. A digest lists at
most :data:`LISTED_PER_KIND` events of each kind and counts the rest, so a burst of ten
thousand conflicts is one readable mail.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from einklang.masking import mask
from einklang.store.notifications import KINDS, Event
from einklang.store.reports import RecordName

Language = Literal["de", "en"]
LISTED_PER_KIND = 25
WIDTH = 76

_WORDS: dict[str, dict[str, str]] = {
    "de": {
        "subject": "einklang: {summary}",
        "intro": "Guten Tag,\n\neinklang hat seit der letzten Nachricht Folgendes gefunden, "
        "das eine Entscheidung braucht:",
        "head_conflict": "Konflikte (ein Feld wurde in zwei Systemen verschieden geändert)",
        "head_review": "Mögliche Dubletten aus Importen (noch nicht entschieden)",
        "head_isolated": "Isolierte Datensätze (Schreiben ist endgültig fehlgeschlagen)",
        "head_unreachable": "Nicht erreichbare Systeme (ihre Änderungen warten)",
        "field": "Feld",
        "since": "seit",
        "more": "… und {n} weitere",
        "outro": "Entscheiden: in der Web-Oberfläche von einklang oder mit `einklang conflicts`, "
        "`einklang review` und `einklang status`.\n\nDiese Nachricht wurde von einklang automatisch gesendet.",
    },
    "en": {
        "subject": "einklang: {summary}",
        "intro": "Hello,\n\nsince its last message einklang has found the following, which needs a decision:",
        "head_conflict": "Conflicts (a field changed differently in two systems)",
        "head_review": "Possible duplicates from imports (not decided yet)",
        "head_isolated": "Isolated records (a write failed for good)",
        "head_unreachable": "Unreachable systems (their changes wait)",
        "field": "field",
        "since": "since",
        "more": "… and {n} more",
        "outro": "Decide in einklang's web app, or with `einklang conflicts`, `einklang review` and "
        "`einklang status`.\n\nThis message was sent automatically by einklang.",
    },
}


# kind -> (one, more) per language
_COUNTED: dict[str, dict[str, tuple[str, str]]] = {
    "de": {
        "conflict": ("1 neuer Konflikt", "{n} neue Konflikte"),
        "review": ("1 mögliche Dublette zu prüfen", "{n} mögliche Dubletten zu prüfen"),
        "isolated": ("1 isolierter Datensatz", "{n} isolierte Datensätze"),
        "unreachable": ("1 System nicht erreichbar", "{n} Systeme nicht erreichbar"),
    },
    "en": {
        "conflict": ("1 new conflict", "{n} new conflicts"),
        "review": ("1 possible duplicate to review", "{n} possible duplicates to review"),
        "isolated": ("1 isolated record", "{n} isolated records"),
        "unreachable": ("1 system unreachable", "{n} systems unreachable"),
    },
}


def counted(kind: str, n: int, language: Language) -> str:
    one, more = _COUNTED[language][kind]
    return one if n == 1 else more.format(n=n)


def counts(events: Sequence[Event]) -> dict[str, int]:
    found = {kind: 0 for kind in KINDS}
    for event in events:
        found[event.kind] += 1
    return found


def subject(events: Sequence[Event], language: Language) -> str:
    words = _WORDS[language]
    summary = ", ".join(counted(kind, n, language) for kind, n in counts(events).items() if n)
    return words["subject"].format(summary=summary)


def record_label(event: Event, names: Mapping[str, RecordName]) -> str:
    name = names.get(event.golden_id or "")
    label = name.label if name else ""
    ids = name.ids if name else ""
    if event.system and event.native_id and f"{event.system} {event.native_id}" not in ids:
        ids = ", ".join(part for part in (f"{event.system} {event.native_id}", ids) if part)
    if label and ids:
        return f"{label} ({ids})"
    return label or ids or (f"golden id {event.golden_id}" if event.golden_id else "")


def _line(event: Event, names: Mapping[str, RecordName], language: Language) -> str:
    words = _WORDS[language]
    if event.kind == "conflict":
        values = "; ".join(f'{system}: "{value}"' for system, value in event.values.items())
        return f"{event.entity} {record_label(event, names)}, {words['field']} {event.subject}: {values}"
    if event.kind == "review":
        return f"{event.entity} {event.subject} ({event.system}): {event.detail}"
    if event.kind == "isolated":
        return f"{event.entity} {record_label(event, names)}: {event.subject} in {event.system}: {event.detail}"
    since = event.since.strftime("%Y-%m-%d %H:%M UTC")
    return f"{event.system} ({words['since']} {since}): {event.detail}"


def mail_text(events: Sequence[Event], names: Mapping[str, RecordName], language: Language) -> str:
    """The plain-text body of one digest mail."""
    words = _WORDS[language]
    parts = [_wrapped(words["intro"]), ""]
    for kind in KINDS:
        of_kind = [event for event in events if event.kind == kind]
        if not of_kind:
            continue
        parts.append(_wrapped(f"{words['head_' + kind]}: {len(of_kind)}"))
        for event in of_kind[:LISTED_PER_KIND]:
            parts.append(
                textwrap.fill(_line(event, names, language), WIDTH, initial_indent="- ", subsequent_indent="  ")
            )
        if len(of_kind) > LISTED_PER_KIND:
            parts.append("  " + words["more"].format(n=len(of_kind) - LISTED_PER_KIND))
        parts.append("")
    parts.append(_wrapped(words["outro"]))
    return mask("\n".join(parts)) + "\n"


def _wrapped(text: str) -> str:
    """Paragraphs wrapped for a mail reader (plain text is read at about 76 columns)."""
    return "\n".join(textwrap.fill(line, WIDTH, break_on_hyphens=False) if line else "" for line in text.split("\n"))


def webhook_body(events: Sequence[Event], names: Mapping[str, RecordName], sent_at: dt.datetime) -> dict[str, Any]:
    """The JSON document POSTed to the webhook (docs/operations.md describes it)."""
    listed: list[dict[str, Any]] = []
    per_kind: dict[str, int] = {}
    for event in events:
        per_kind[event.kind] = per_kind.get(event.kind, 0) + 1
        if per_kind[event.kind] > LISTED_PER_KIND * 4:
            continue
        name = names.get(event.golden_id or "")
        listed.append(
            {
                "key": event.key,
                "kind": event.kind,
                "entity": event.entity,
                "system": event.system,
                "record": record_label(event, names) or None,
                "golden_id": event.golden_id,
                "ids": dict(name.natives) if name else {},
                "subject": event.subject,
                "detail": mask(event.detail),
                "values": {system: mask(value) for system, value in event.values.items()},
                "since": event.since.isoformat(timespec="seconds") + "Z",
            }
        )
    return {
        "source": "einklang",
        "sent_at": sent_at.isoformat(timespec="seconds") + "Z",
        "counts": counts(events),
        "events": listed,
        "truncated": len(listed) < len(events),
    }

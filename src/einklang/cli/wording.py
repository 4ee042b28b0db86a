"""How einklang's reports read to people: one wording for the command line and the demo.

The JSON documents keep the engine's field names (``captured``, ``echoes`` ...); what a person
reads says what they mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_CYCLE_PARTS: tuple[tuple[str, str], ...] = (
    ("captured", "{n} change(s) read"),
    ("echoes", "{n} of einklang's own writes read back and ignored"),
    ("applied", "{n} update(s) written"),
    ("created", "{n} record(s) created"),
    ("deleted", "{n} deleted/archived"),
    ("linked", "{n} linked to an existing record"),
    ("conflicts", "{n} new conflict(s)"),
    ("violations", "{n} ownership violation(s)"),
    ("resolved", "{n} conflict decision(s) applied"),
    ("stale", "{n} write(s) re-planned (the record had changed meanwhile)"),
    ("failed", "{n} write(s) failed"),
)


def cycle_entity_text(report: Mapping[str, Any]) -> str:
    """One entity's part of a sync cycle (``EntityReport.as_dict()``), e.g.
    ``3 change(s) read, 2 update(s) written``; counts of zero are left out."""
    parts = [
        template.format(n=report[key])
        for key, template in _CYCLE_PARTS
        if isinstance(report.get(key), int) and report[key]
    ]
    return ", ".join(parts) or "nothing changed"


def resolution_text(resolution: Mapping[str, Any] | None, status: str) -> str:
    """A conflict's decision in words, e.g. ``take erp's value ("Potsdam"); decided by cli``."""
    if not resolution:
        return ""
    value = resolution.get("value")
    if "take" in resolution:
        text = f"take {resolution['take']}'s value"
        if status == "resolved" and value is not None:
            text += f' ("{value}")'
    elif value is not None:
        text = f'use "{resolution.get("canonical", value)}" in every system'
    else:
        text = ", ".join(f"{key} {val}" for key, val in resolution.items() if key not in ("by", "applied"))
    if resolution.get("by"):
        text += f"; decided by {resolution['by']}"
    if resolution.get("applied") is False:
        text += "; not applied: the record no longer exists"
    elif status == "decided":
        text += "; the next `einklang sync` applies it"
    elif status == "resolved":
        text += "; applied"
    return text


def change_text(old: Any, new: Any) -> str:
    """An audit entry's change, one field a line: ``city: Berlin → Potsdam``."""
    if isinstance(old, Mapping) or isinstance(new, Mapping):
        before = old if isinstance(old, Mapping) else {}
        after = new if isinstance(new, Mapping) else {}
        lines = []
        for name in dict.fromkeys([*before, *after]):
            was, now = before.get(name), after.get(name)
            if name in before and name in after:
                lines.append(f"{name}: {_value(was)} → {_value(now)}")
            elif name in after:
                lines.append(f"{name}: {_value(now)}")
            else:
                lines.append(f"{name}: {_value(was)} (removed)")
        return "\n".join(lines)
    if old in (None, "") and new in (None, ""):
        return ""
    return f"{_value(old)} → {_value(new)}"


def _value(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    return str(value)

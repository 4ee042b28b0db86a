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
    """An audit entry's change, one field a line: ``city: Berlin → Potsdam`` (a create's values on one line)."""
    if not old and isinstance(new, Mapping):  # a create: all its values on one (wrapping) line
        return "values: " + "; ".join(f"{name} {_value(value)}" for name, value in new.items())
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


def import_lines(report: Mapping[str, Any]) -> list[str]:
    """An import run's counts (``ImportReport.summary()``) so that they add up: every row read is
    left out, imported before or one of a person's rows; every person is created, linked, waiting
    or failed; the review file holds the linked, the waiting and the contacts without a company."""
    verb = "would be " if report.get("dry_run") else ""
    read, left_out, before = report["rows_read"], report.get("rows_left_out", 0), report["already_imported"]
    persons, merged = report["persons"], report["merged_rows"]
    rows_parts = [
        f"{left_out} left out (no name)" if left_out else "",
        f"{before} imported before" if before else "",
        (
            f"{persons + merged} for {persons} person(s)"
            + (f" ({merged} repeat a person of another row)" if merged else "")
        )
        if persons
        else "",
    ]
    lines = [f"{read} row(s) read: " + ", ".join(part for part in rows_parts if part)]
    if persons:
        lines.append(
            f"person(s): {verb}created {report['created']}, {verb}linked {report['linked']} to existing records, "
            f"{report.get('waiting', 0)} wait for a decision, failed {report['failed']}"
        )
    if report.get("accounts_attached") or report.get("accounts_created") or report.get("accounts_to_review"):
        lines.append(
            f"companies: {verb}attached {report['accounts_attached']}, {verb}created {report['accounts_created']} "
            f"account(s), {report['accounts_to_review']} contact(s) whose company is unsure"
        )
    rows = report.get("to_review", 0) + report.get("accounts_to_review", 0)
    if rows:
        parts = [
            f"{report['linked']} linked (choose merge to fill their fields)" if report.get("linked") else "",
            f"{report['waiting']} waiting for a decision" if report.get("waiting") else "",
            f"{report['accounts_to_review']} without a company" if report.get("accounts_to_review") else "",
        ]
        where = report.get("review_file") or "the review file (not written in a dry run)"
        lines.append(f"{rows} row(s) in {where}: " + ", ".join(part for part in parts if part))
    return lines


def review_lines(report: Mapping[str, Any]) -> list[str]:
    """A review run's counts (``ApplyReport.as_dict()``); every row of the file has one outcome.

    A dry run counts what it would do (the report's own counts)."""
    would = "would be " if report.get("dry_run") else ""
    done = (
        f"{would}merged {report['merged']}, {would}created {report['created']}, "
        f"{would}skipped {report['skipped']}, not duplicates {report['not_duplicate']}, "
        f"companies {would}attached {report['attached']}"
    )
    return [
        f"{done}; undecided {report['undecided']}, applied before {report['already_applied']}, "
        f"refused {report.get('refused', 0)}, failed {report['failed']}"
    ]

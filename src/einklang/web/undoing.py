"""Undo of an import or review run from the web app: the code of ``einklang undo``.

First a plan (the same undo as a dry run: nothing is written) that the confirmation page shows,
each step with the record's name, then the undo itself with the writer lock held, exactly as
the command runs it.
"""

from __future__ import annotations

from typing import Any

from einklang.config import LoadedConfig
from einklang.store import journal
from einklang.store.reports import NAME_FIELDS, record_names
from einklang.store.state import StateStore
from einklang.web.queries import keys_of


def undo_plan(loaded: LoadedConfig, store: StateStore, run_id: int) -> dict[str, Any]:
    """What undoing ``run_id`` would revert; raises UndoError when the run cannot be undone."""
    from einklang.importer.undo import undo_run

    plan = undo_run(loaded, store, run_id, dry_run=True).as_dict()
    with store.read() as conn:
        entries = {entry.id: entry for entry in journal.audit_log(conn, run_id=run_id, limit=10_000_000)}
        names = record_names(conn, (entry.golden_id for entry in entries.values()), keys_of(loaded))
    for step in plan["plan"]:
        step["step"] = f"undo: {step['op']}"  # the catalogue's key for what the step does
        entry = entries.get(step["audit_id"])
        if entry is None:
            continue
        step["entity"] = entry.entity
        name = names.get(entry.golden_id or "")
        step["record"] = name.label if name is not None else _label_of_values(entry.new)
    return plan


def _label_of_values(new: Any) -> str | None:
    """A name from the values an audit entry wrote (the record may be gone from the store)."""
    values = new.get("values") if isinstance(new, dict) else None
    if not isinstance(values, dict):
        return None
    for group in NAME_FIELDS:
        parts = [str(values[name]) for name in group if values.get(name)]
        if parts:
            return " ".join(parts)
    return None


def undo(loaded: LoadedConfig, run_id: int, by: str) -> dict[str, Any]:
    """Undo the run (writer lock held, like ``einklang undo RUN_ID``); the undo's report."""
    from einklang.cli._common import writing
    from einklang.importer.undo import undo_run

    with writing(loaded, "undo (web app)", wait=30.0) as store:
        return undo_run(loaded, store, run_id, requested_by=by).as_dict()

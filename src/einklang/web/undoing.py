"""Undo of an import or review run from the web app: the code of ``einklang undo``.

First a plan (the same undo as a dry run: nothing is written) that the confirmation page shows,
then the undo itself with the writer lock held, exactly as the command runs it.
"""

from __future__ import annotations

from typing import Any

from einklang.config import LoadedConfig
from einklang.store.state import StateStore


def undo_plan(loaded: LoadedConfig, store: StateStore, run_id: int) -> dict[str, Any]:
    """What undoing ``run_id`` would revert; raises UndoError when the run cannot be undone."""
    from einklang.importer.undo import undo_run

    return undo_run(loaded, store, run_id, dry_run=True).as_dict()


def undo(loaded: LoadedConfig, run_id: int, by: str) -> dict[str, Any]:
    """Undo the run (writer lock held, like ``einklang undo RUN_ID``); the undo's report."""
    from einklang.cli._common import writing
    from einklang.importer.undo import undo_run

    with writing(loaded, "undo (web app)", wait=30.0) as store:
        return undo_run(loaded, store, run_id, requested_by=by).as_dict()

"""Human decisions: conflicts decided since the last cycle are applied before anything is read.

The decided value becomes the golden record's base; the merge that follows plans the writes
that bring every system to it. The audit names the person who decided.
"""

from __future__ import annotations

from typing import Any

from einklang.context import EntityContext
from einklang.model import CanonicalValue, EntitySpec, coerce, decode, display
from einklang.store import conflicts, journal, links
from einklang.sync.cycle import Cycle
from einklang.sync.merging import merge_golden
from einklang.sync.report import EntityReport


def apply_decisions(cycle: Cycle, ctx: EntityContext, report: EntityReport) -> None:
    with cycle.store.read() as conn:
        decided = conflicts.decided_conflicts(conn, ctx.name)
    for conflict in decided:
        if not cycle.scope.owns(conflict.golden_id):
            continue  # another worker's partition (sync/partitions.py)
        resolution = conflict.resolution or {}
        with cycle.write() as conn:
            loaded = links.load_golden(conn, conflict.golden_id, lock=True)
            if loaded is None:
                conflicts.close_conflict(conn, conflict.id, {**resolution, "applied": False})
                continue
            base, _ = loaded
            linked = links.links_of_golden(conn, conflict.golden_id)
            if "take" in resolution:
                system = str(resolution["take"])
                link = linked.get(system)
                value: CanonicalValue = (
                    (link.seen or {}).get(conflict.field) if link and link.seen else conflict.values.get(system)
                )
                cause = f"conflict {conflict.id} resolved: take {system}'s value"
            else:
                value = _given_value(ctx.spec, conflict.field, resolution.get("value"))
                cause = f"conflict {conflict.id} resolved: value given by a person"
            old = base.get(conflict.field)
            base[conflict.field] = value
            links.save_golden(conn, conflict.golden_id, base)
            conflicts.close_conflict(conn, conflict.id, {**resolution, "value": display(value)})
            journal.audit(
                conn,
                cycle.run_id,
                [
                    {
                        "entity": ctx.name,
                        "golden_id": conflict.golden_id,
                        "op": "resolve",
                        "old": {conflict.field: display(old)},
                        "new": {conflict.field: display(value)},
                        "cause": cause + (f" (by {resolution['by']})" if resolution.get("by") else ""),
                    }
                ],
            )
        report.resolved += 1
        merge_golden(cycle, ctx, conflict.golden_id, {}, [], report, cause_prefix=f"conflict {conflict.id} resolved: ")


def _given_value(spec: EntitySpec, name: str, value: Any) -> CanonicalValue:
    """A value a person entered: stored encoded (a typed value) or as text to coerce."""
    if isinstance(value, dict):
        return decode(value)
    return coerce(spec.field(name), value)

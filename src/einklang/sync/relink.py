"""Re-linking two systems whose records einklang knew before its state store was lost.

``einklang relink`` links the records of two systems by their keys (and the matcher), as a
load into a non-empty target does, but creates nothing and takes neither side for the truth:
where the two records of a pair hold different values, the field's leader (``sync`` policy)
wins if it has one, and otherwise the field is held as a conflict for a person to decide.
Without it, the first sync over a new state store would link the records anew and overwrite
one system's edits with the other's values.
"""

from __future__ import annotations

from einklang.context import EntityContext
from einklang.model import CanonicalRecord, CanonicalValue
from einklang.sync.policies import Leader

RELINK_CONFLICT_REASON = "the systems differ and the state store was rebuilt by relink: a person decides"


class StateLost(Exception):
    """Records carry einklang's ids while the state store knows no record of their entity."""

    def __init__(self, entity: str, system: str, count: int) -> None:
        super().__init__(
            f"{system} holds {count} {entity} record(s) that einklang linked before, but this state store knows "
            f"no {entity} records (a new or restored state store?). Syncing now would treat them as new and "
            f"overwrite edits; nothing was synced for {entity}. Run `einklang relink {entity}` to link the "
            "records by their keys first"
        )
        self.entity = entity
        self.system = system
        self.count = count


def relinked_values(
    ctx: EntityContext, source: str, target: str, source_values: CanonicalRecord, target_values: CanonicalRecord
) -> tuple[CanonicalRecord, dict[str, dict[str, CanonicalValue]]]:
    """The agreed values of a re-linked pair, and field -> {system: value} where a person must decide.

    A value only one record has is kept; where both hold different values the field's leader
    wins, else the field is held (the source's value stands in the base until it is decided).
    """
    base: CanonicalRecord = {}
    held: dict[str, dict[str, CanonicalValue]] = {}
    for name in dict.fromkeys([*source_values, *target_values]):
        mine, theirs = source_values.get(name), target_values.get(name)
        if mine is None or theirs is None or mine == theirs:
            base[name] = mine if mine is not None else theirs
            continue
        rule = ctx.policy.for_field(name).conflicts
        if isinstance(rule, Leader) and rule.system in (source, target):
            base[name] = mine if rule.system == source else theirs
        else:
            base[name] = mine
            held[name] = {source: mine, target: theirs}
    return base, held

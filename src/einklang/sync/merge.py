"""Field-level three-way merge of one golden record across N systems (pure).

Each system is described by what einklang last knew it holds (``seen``; after an agreed write
this equals the base) and, when it reported a change this cycle, what it holds now
(``current``). A field counts as changed in a system when its current value differs from the
seen one; a field absent from ``current`` is unknown (e.g. an invalid value) and never a wipe.

Measuring against ``seen`` rather than the base matters when a system is behind: a system
with a pending write (it was down) still holds the old value; that is not a change it made.
If such a system does change the field, its change is concurrent with the one that moved the
base, so the base value competes with it and the field's policy decides.

The result is the new base, the new ``seen`` per system, the patch each system needs to reach
the base (desired-state planning: re-running it is harmless), and the decisions with reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from einklang.model import CanonicalRecord, CanonicalValue
from einklang.sync.policies import BASE_PROPOSER, EntityPolicy, Proposal, resolve

_MISSING = object()

DecisionKind = Literal["change", "policy", "conflict", "conflict_update", "conflict_settled", "violation"]


@dataclass(frozen=True)
class SystemView:
    system: str
    fields: frozenset[str]  # canonical fields this system maps (it can read and write them)
    seen: Mapping[str, CanonicalValue]
    current: Mapping[str, CanonicalValue] | None = None  # None: no change reported this cycle
    modified: dt.datetime | None = None  # the system's own modification time of the record
    tolerated: Mapping[str, CanonicalValue] = field(default_factory=dict)  # reported violations it may keep
    writable: frozenset[str] | None = None  # default: ``fields``

    def can_write(self, name: str) -> bool:
        return name in (self.writable if self.writable is not None else self.fields)


@dataclass(frozen=True)
class Decision:
    field: str
    kind: DecisionKind
    reason: str
    old: CanonicalValue = None
    new: CanonicalValue = None
    system: str | None = None


@dataclass(frozen=True)
class NewConflict:
    field: str
    base: CanonicalValue
    values: dict[str, CanonicalValue]
    reason: str


@dataclass
class MergeResult:
    base: CanonicalRecord
    seen: dict[str, CanonicalRecord]
    tolerated: dict[str, dict[str, CanonicalValue]]
    writes: dict[str, dict[str, CanonicalValue]]
    write_reasons: dict[str, dict[str, str]]
    decisions: list[Decision] = field(default_factory=list)
    conflicts: list[NewConflict] = field(default_factory=list)
    held: dict[str, dict[str, CanonicalValue]] = field(default_factory=dict)  # still open: field -> values
    settled: dict[str, CanonicalValue] = field(default_factory=dict)  # open conflicts that resolved themselves


def merge_record(
    base: Mapping[str, CanonicalValue],
    views: list[SystemView],
    policy: EntityPolicy,
    held: Mapping[str, Mapping[str, CanonicalValue]] | None = None,
) -> MergeResult:
    """Merge the systems' changes into ``base``; ``held`` are the open conflicts (field -> values)."""
    held = {name: dict(values) for name, values in (held or {}).items()}
    new_base: CanonicalRecord = dict(base)
    new_seen = {view.system: dict(view.seen) for view in views}
    tolerated = {view.system: dict(view.tolerated) for view in views}
    result = MergeResult(new_base, new_seen, tolerated, {}, {})
    reasons: dict[str, str] = {}
    reverted: dict[str, dict[str, str]] = {}

    all_fields = sorted({name for view in views for name in view.fields})
    for name in all_fields:
        field_policy = policy.for_field(name)
        changes: dict[str, CanonicalValue] = {}
        before_seen: dict[str, object] = {}
        for view in views:
            if name not in view.fields or view.current is None or name not in view.current:
                continue
            value = view.current[name]
            if name in view.seen:
                prior = view.seen[name]
            elif value is None:
                # read for the first time, and empty: an unknown field became known, nobody cleared it
                # (taking the base as its prior would make it a wipe of the agreed value)
                prior = None
            else:
                prior = base.get(name, None)
            before_seen[view.system] = prior
            if value != prior:
                changes[view.system] = value
            new_seen[view.system][name] = value

        if name in held:
            _update_held(result, name, held[name], changes, views, base)
            continue
        if not changes:
            continue

        accepted: dict[str, CanonicalValue] = {}
        for system, value in changes.items():
            if field_policy.may_change(system):
                accepted[system] = value
                tolerated[system].pop(name, None)
                continue
            owners = ", ".join(sorted(field_policy.owners))
            if field_policy.revert_violations:
                reason = f"{system} changed {name} but only {owners} may: not propagated, reverted"
                reverted.setdefault(system, {})[name] = reason
                tolerated[system].pop(name, None)
            else:
                reason = f"{system} changed {name} but only {owners} may: not propagated, reported"
                tolerated[system][name] = value
            result.decisions.append(Decision(name, "violation", reason, base.get(name), value, system))
        base_value = base.get(name)
        for system in [
            s for s, value in accepted.items() if value == base_value and before_seen.get(s, base_value) != base_value
        ]:
            # a system that was behind now holds the agreed value: it caught up (often our own
            # write whose confirmation a crash lost), which agrees with everything, so no proposal
            del accepted[system]
        if not accepted:
            continue

        by_value: dict[object, list[str]] = {}
        for system, value in accepted.items():
            by_value.setdefault(_key(value), []).append(system)
        proposals = [
            Proposal(accepted[systems[0]], tuple(sorted(systems)), {s: _modified(views, s) for s in systems})
            for systems in by_value.values()
        ]
        behind = [s for s in accepted if before_seen.get(s, base_value) != base_value]
        if behind and _key(base_value) not in by_value:
            agreed = tuple(
                sorted(
                    v.system
                    for v in views
                    if name in v.fields
                    and v.system not in accepted
                    and new_seen[v.system].get(name, base_value) == base_value
                )
            ) or (BASE_PROPOSER,)
            proposals.append(Proposal(base_value, agreed, {s: _modified(views, s) for s in agreed}))

        resolution = resolve(name, proposals, field_policy)
        if resolution.conflict:
            values = {v.system: new_seen[v.system].get(name) for v in views if name in v.fields}
            result.conflicts.append(NewConflict(name, base_value, values, resolution.reason))
            result.held[name] = values
            result.decisions.append(Decision(name, "conflict", resolution.reason, base_value, None))
            continue
        kind: DecisionKind = "change" if len(proposals) == 1 else "policy"
        if kind == "change" and resolution.value == base_value and name in base:
            continue  # a system that was behind caught up on its own
        new_base[name] = resolution.value
        reasons[name] = resolution.reason
        result.decisions.append(
            Decision(name, kind, resolution.reason, base_value, resolution.value, "+".join(resolution.winners) or None)
        )

    _plan_writes(result, views, base, reasons, reverted)
    return result


def _update_held(
    result: MergeResult,
    name: str,
    values: Mapping[str, CanonicalValue],
    changes: Mapping[str, CanonicalValue],
    views: list[SystemView],
    base: Mapping[str, CanonicalValue],
) -> None:
    values = {**values, **changes}
    if not changes:
        result.held[name] = values
        return
    relevant = [values.get(v.system, base.get(name)) for v in views if name in v.fields]
    distinct = {_key(value) for value in relevant}
    if len(distinct) == 1:
        agreed = relevant[0]
        result.base[name] = agreed
        result.settled[name] = agreed
        result.decisions.append(
            Decision(name, "conflict_settled", f"{name}: all systems now hold the same value", base.get(name), agreed)
        )
        return
    result.held[name] = values
    result.decisions.append(
        Decision(
            name,
            "conflict_update",
            f"{name}: still in conflict, values updated ({', '.join(f'{s}={changes[s]!r}' for s in sorted(changes))})",
        )
    )


def _plan_writes(
    result: MergeResult,
    views: list[SystemView],
    old_base: Mapping[str, CanonicalValue],
    reasons: Mapping[str, str],
    reverted: Mapping[str, Mapping[str, str]],
) -> None:
    for view in views:
        patch: dict[str, CanonicalValue] = {}
        why: dict[str, str] = {}
        seen = result.seen[view.system]
        tolerated = result.tolerated[view.system]
        for name in sorted(view.fields):
            if not view.can_write(name) or name in result.held or name not in result.base:
                continue
            target = result.base[name]
            held_value = seen.get(name, _MISSING)
            if held_value is not _MISSING and held_value == target:
                tolerated.pop(name, None)
                continue
            if name in tolerated and old_base.get(name) == target and tolerated[name] == held_value:
                continue  # a reported (not reverted) violation: the system keeps its value
            tolerated.pop(name, None)
            patch[name] = target
            why[name] = (
                reverted.get(view.system, {}).get(name)
                or reasons.get(name)
                or f"{name}: {view.system} is behind the agreed value"
            )
        if patch:
            result.writes[view.system] = patch
            result.write_reasons[view.system] = why


def _modified(views: list[SystemView], system: str) -> dt.datetime | None:
    for view in views:
        if view.system == system:
            return view.modified
    return None


def _key(value: CanonicalValue) -> object:
    # bool is an int in Python: True == 1 must not make two different values one proposal
    return (type(value).__name__ if isinstance(value, bool) else "", value)

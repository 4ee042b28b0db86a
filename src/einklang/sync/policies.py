"""Conflict and ownership policies (pure: no I/O, no clocks, no configuration loading).

A *proposal* is one value for one field, put forward by the systems that changed the field to
it in this cycle. When a field has more than one proposal the field's policy picks a winner or
declares a conflict. Every outcome carries a human-readable reason for the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from einklang.model import CanonicalValue

BASE_PROPOSER = "(agreed)"  # stands for "the value all other systems already agreed on"


@dataclass(frozen=True)
class Leader:
    system: str


ConflictRule = Literal["manual", "newest"] | Leader


@dataclass(frozen=True)
class FieldPolicy:
    conflicts: ConflictRule = "manual"
    empty_wins: bool = False
    owners: frozenset[str] = frozenset()  # empty: every system may change the field
    revert_violations: bool = False

    def may_change(self, system: str) -> bool:
        return not self.owners or system in self.owners


@dataclass(frozen=True)
class EntityPolicy:
    default: FieldPolicy = field(default_factory=FieldPolicy)
    fields: Mapping[str, FieldPolicy] = field(default_factory=dict)

    def for_field(self, name: str) -> FieldPolicy:
        return self.fields.get(name, self.default)


@dataclass(frozen=True)
class Proposal:
    value: CanonicalValue
    systems: tuple[str, ...]
    # each proposing system's own modification time (only the "newest" policy looks at it)
    modified: Mapping[str, dt.datetime | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    conflict: bool
    value: CanonicalValue
    reason: str
    winners: tuple[str, ...] = ()


def is_empty(value: CanonicalValue) -> bool:
    return value is None or value == ""


def _who(proposal: Proposal) -> str:
    return "+".join(proposal.systems)


def resolve(field_name: str, proposals: Sequence[Proposal], policy: FieldPolicy) -> Resolution:
    """Pick the winning value among two or more different proposals, or declare a conflict."""
    if len(proposals) == 1:
        only = proposals[0]
        return Resolution(False, only.value, f"{field_name} changed in {_who(only)}", only.systems)
    rule = policy.conflicts
    listing = ", ".join(f"{_who(p)}={p.value!r}" for p in proposals)
    if isinstance(rule, Leader):
        return _resolve_by_leader(field_name, proposals, rule.system, policy.empty_wins, listing)
    if rule == "newest":
        return _resolve_by_newest(field_name, proposals, listing)
    return Resolution(True, None, f"{field_name} changed differently ({listing}); policy manual: held for a decision")


def _resolve_by_leader(
    field_name: str, proposals: Sequence[Proposal], leader: str, empty_wins: bool, listing: str
) -> Resolution:
    led = [p for p in proposals if leader in p.systems]
    if not led:
        # with three or more systems two non-leaders can disagree while the leader kept quiet;
        # guessing between them would lose one of the changes, so a person decides
        return Resolution(
            True,
            None,
            f"{field_name} changed differently ({listing}) and leader {leader} did not change it: held for a decision",
        )
    winner = led[0]
    if is_empty(winner.value) and not empty_wins:
        filled = {p.value: p for p in proposals if not is_empty(p.value)}
        if len(filled) == 1:
            kept = next(iter(filled.values()))
            return Resolution(
                False,
                kept.value,
                f"{field_name}: leader {leader} emptied it but empty_wins is off; "
                f"kept {_who(kept)}'s value ({listing})",
                kept.systems,
            )
        if len(filled) > 1:
            return Resolution(
                True,
                None,
                f"{field_name}: leader {leader} emptied it, others disagree ({listing}); held for a decision",
            )
    return Resolution(
        False,
        winner.value,
        f"{field_name} changed differently ({listing}); leader {leader} wins",
        winner.systems,
    )


def _resolve_by_newest(field_name: str, proposals: Sequence[Proposal], listing: str) -> Resolution:
    stamped: list[tuple[dt.datetime, Proposal, str]] = []
    for proposal in proposals:
        times = [t for t in proposal.modified.values() if t is not None]
        if not times or len(times) != len(proposal.systems):
            return Resolution(
                True,
                None,
                f"{field_name} changed differently ({listing}); policy newest but "
                f"{_who(proposal)} gave no modification time: held for a decision",
            )
        newest_of_proposal = max(times)
        stamped.append(
            (
                newest_of_proposal,
                proposal,
                max(proposal.modified, key=lambda s: proposal.modified[s] or dt.datetime.min),
            )
        )
    stamped.sort(key=lambda item: item[0], reverse=True)
    if stamped[0][0] == stamped[1][0]:
        return Resolution(
            True, None, f"{field_name} changed differently ({listing}) at the same time: held for a decision"
        )
    when, winner, system = stamped[0]
    return Resolution(
        False,
        winner.value,
        f"{field_name} changed differently ({listing}); policy newest: {system} modified it last ({when.isoformat()})",
        winner.systems,
    )

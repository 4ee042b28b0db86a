"""Turning the ``sync:`` part of an entity's configuration into the pure policy objects."""

from __future__ import annotations

from einklang.config_models import ConflictPolicy, SyncConfig
from einklang.sync.policies import ConflictRule, EntityPolicy, FieldPolicy, Leader


def _rule(policy: ConflictPolicy) -> ConflictRule:
    if isinstance(policy, dict):
        return Leader(policy["leader"])
    return policy


def entity_policy(sync: SyncConfig) -> EntityPolicy:
    default_rule = _rule(sync.conflicts)
    default = FieldPolicy(conflicts=default_rule, empty_wins=sync.empty_wins)
    fields: dict[str, FieldPolicy] = {}
    for name, field_config in sync.fields.items():
        rule: ConflictRule = default_rule
        if field_config.leader:
            rule = Leader(field_config.leader)
        elif field_config.conflicts is not None:
            rule = _rule(field_config.conflicts)
        fields[name] = FieldPolicy(
            conflicts=rule,
            empty_wins=field_config.empty_wins or sync.empty_wins,
            owners=frozenset(field_config.owners()),
            revert_violations=field_config.on_violation == "revert",
        )
    return EntityPolicy(default, fields)

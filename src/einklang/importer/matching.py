"""Glue between importer records and the matcher: which spec, and records in the shape it reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from einklang.match import COMPANY_SPEC, CONTACT_SPEC, SPECS, MatchSpec
from einklang.model import CanonicalRecord, EntitySpec, NormalizeContext, coerce, display
from einklang.normalize import InvalidValue


def spec_for_entity(entity: str, fields: Mapping[str, Any] | tuple[str, ...]) -> MatchSpec:
    """The matcher spec of an entity: by name, else by its fields (people vs organisations)."""
    if entity in SPECS:
        return SPECS[entity]
    names = set(fields)
    if names & {"first_name", "last_name"}:
        return CONTACT_SPEC
    if "name" in names:
        return COMPANY_SPEC
    raise ValueError(f"no duplicate-detection spec fits entity {entity!r} (needs first_name/last_name or name fields)")


def match_record(record_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A record for :func:`einklang.match.find_duplicates`: display strings plus its id."""
    shown = {name: display(value) for name, value in values.items() if value is not None and name != "id"}
    return {**{name: value for name, value in shown.items() if value}, "id": record_id}


def to_entity_record(
    values: Mapping[str, str], entity: EntitySpec, fields: tuple[str, ...], ctx: NormalizeContext
) -> CanonicalRecord:
    """Importer values (canonical contact field names) as the entity's typed canonical record.

    Fields the entity does not have are left out; a value its type refuses is left out too (the
    importer's validation has already reported it).
    """
    record: CanonicalRecord = {}
    for name in fields:
        raw = values.get(name)
        if raw is None or name not in entity.fields:
            continue
        try:
            record[name] = coerce(entity.field(name), raw, ctx)
        except InvalidValue:
            continue
    return record

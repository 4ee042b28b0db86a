"""Native <-> canonical field mapping for one system and entity.

A mapping is a list of ``FieldMap`` rules. Reading applies the rule, then the canonical field
type's normalisation; writing reverses the rule. A value that cannot be normalised is left out
of the canonical record and reported, so one bad cell never blanks a field elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from einklang.model import (
    CanonicalRecord,
    CanonicalValue,
    EntitySpec,
    NormalizeContext,
    coerce,
    display,
)
from einklang.normalize.errors import InvalidValue
from einklang.normalize.names import join_person_name, split_full_name
from einklang.normalize.text import clean_text


class MapKind(StrEnum):
    COLUMN = "column"  # one native column <-> one canonical field
    JOIN = "join"  # several native columns joined into one canonical field
    NAME_PART = "name_part"  # one native full-name column holds first and last name


class SplitStrategy(StrEnum):
    FIRST_COLUMN = "first"  # reversing a join puts the whole value in the first column
    PERSON = "person"  # reversing a join splits a person name into first / last


TRANSFORMS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
    "digits": lambda s: "".join(ch for ch in s if ch.isdigit()),
}


@dataclass(frozen=True)
class FieldMap:
    canonical: str
    columns: tuple[str, ...]
    kind: MapKind = MapKind.COLUMN
    sep: str = " "
    split: SplitStrategy = SplitStrategy.FIRST_COLUMN
    part: str = ""  # for NAME_PART: "first" or "last"
    values: Mapping[str, str] = field(default_factory=dict)  # native value -> canonical value
    transforms: tuple[str, ...] = ()
    read_only: bool = False

    def __post_init__(self) -> None:
        unknown = [t for t in self.transforms if t not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown transform(s) {unknown}; known: {sorted(TRANSFORMS)}")
        if self.kind is MapKind.NAME_PART and self.part not in ("first", "last"):
            raise ValueError("name_part needs part: first or last")
        if self.kind is MapKind.COLUMN and len(self.columns) != 1:
            raise ValueError("a column rule maps exactly one column")


@dataclass(frozen=True)
class FieldProblem:
    field: str
    value: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason} (value {self.value!r})"


class EntityMapping:
    def __init__(
        self, entity: EntitySpec, rules: Iterable[FieldMap], ctx: NormalizeContext | None = None
    ) -> None:
        self.entity = entity
        self.rules = tuple(rules)
        self.ctx = ctx or NormalizeContext()
        for rule in self.rules:
            entity.field(rule.canonical)
        self._reverse_values = {
            rule.canonical: {canon: native for native, canon in rule.values.items()}
            for rule in self.rules
            if rule.values
        }

    @property
    def canonical_fields(self) -> tuple[str, ...]:
        return tuple(rule.canonical for rule in self.rules)

    @property
    def native_columns(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for rule in self.rules:
            for column in rule.columns:
                seen.setdefault(column, None)
        return tuple(seen)

    def writable_fields(self) -> tuple[str, ...]:
        return tuple(rule.canonical for rule in self.rules if not rule.read_only)

    def to_canonical(self, native: Mapping[str, Any]) -> tuple[CanonicalRecord, list[FieldProblem]]:
        record: CanonicalRecord = {}
        problems: list[FieldProblem] = []
        for rule in self.rules:
            raw = self._read_raw(rule, native)
            try:
                record[rule.canonical] = self._to_canonical_value(rule, raw)
            except InvalidValue as exc:
                problems.append(FieldProblem(rule.canonical, raw, exc.reason))
        return record, problems

    def _read_raw(self, rule: FieldMap, native: Mapping[str, Any]) -> Any:
        if rule.kind is MapKind.JOIN:
            parts = [clean_text(_as_text(native.get(column))) for column in rule.columns]
            return rule.sep.join(part for part in parts if part) or None
        if rule.kind is MapKind.NAME_PART:
            full = clean_text(_as_text(native.get(rule.columns[0])))
            if full is None:
                return None
            first, last = split_full_name(full)
            return first if rule.part == "first" else last
        return native.get(rule.columns[0])

    def _to_canonical_value(self, rule: FieldMap, raw: Any) -> CanonicalValue:
        if isinstance(raw, str):
            for name in rule.transforms:
                raw = TRANSFORMS[name](raw)
            if rule.values:
                raw = rule.values.get(raw.strip(), raw)
        elif raw is not None and rule.values:
            raw = rule.values.get(str(raw), raw)
        return coerce(self.entity.field(rule.canonical), raw, self.ctx)

    def to_native(
        self, record: Mapping[str, CanonicalValue], only: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Native column values for the canonical fields ``only`` (default: all mapped, writable)."""
        wanted = set(only) if only is not None else set(self.writable_fields())
        native: dict[str, Any] = {}
        name_parts: dict[str, dict[str, str | None]] = {}
        for rule in self.rules:
            if rule.canonical not in wanted or rule.read_only:
                continue
            value = record.get(rule.canonical)
            if rule.kind is MapKind.NAME_PART:
                column = rule.columns[0]
                parts = name_parts.setdefault(column, {})
                parts[rule.part] = display(value) or None
                # the sibling part is needed to rebuild the column; take it from the record
                for sibling in self.rules:
                    if sibling.kind is MapKind.NAME_PART and sibling.columns[0] == column:
                        parts.setdefault(sibling.part, display(record.get(sibling.canonical)) or None)
                continue
            native_value = self._native_value(rule, value)
            if rule.kind is MapKind.JOIN:
                native.update(self._split(rule, native_value))
            else:
                native[rule.columns[0]] = native_value
        for column, parts in name_parts.items():
            native[column] = join_person_name(parts.get("first"), parts.get("last")) or None
        return native

    def _native_value(self, rule: FieldMap, value: CanonicalValue) -> Any:
        if value is None:
            return None
        reverse = self._reverse_values.get(rule.canonical)
        if reverse is not None and isinstance(value, str) and value in reverse:
            return reverse[value]
        return value

    def _split(self, rule: FieldMap, value: Any) -> dict[str, Any]:
        columns = rule.columns
        if value is None:
            return dict.fromkeys(columns)
        text = str(value)
        if rule.split is SplitStrategy.PERSON and len(columns) >= 2:
            first, last = split_full_name(text)
            result: dict[str, Any] = dict.fromkeys(columns)
            result[columns[0]] = first or None
            result[columns[1]] = last or None
            return result
        result = dict.fromkeys(columns)
        result[columns[0]] = text
        return result


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)

"""Native <-> canonical field mapping for one system and entity.

A mapping is a list of ``FieldMap`` rules. Reading applies the rule, then the canonical field
type's normalisation; writing reverses the rule. A value that cannot be normalised is left out
of the canonical record and reported, so one bad cell never blanks a field elsewhere.

A value einklang could not read is unknown, never empty: a native record that lacks a column a
rule reads (a partial answer of an API, a list endpoint with fewer fields than the detail one)
leaves that canonical field out of the canonical record, exactly like an invalid value. The
merge takes a field absent from a record as "no observation", so nothing is blanked elsewhere.
A column that is present with None (or blank) is a real empty value. In the other direction,
``to_native`` of a whole record writes only the fields the record holds.

A ``ref`` field (docs/references.md) holds a golden id. What the system keeps instead — the
native id of the linked record (a foreign key) or one value of the referenced record
(``ref_value``, e.g. a group's name) — is translated through a :class:`ReferenceResolver`
that the caller binds (:meth:`EntityMapping.bind`); the core only asks it, it never reads a
store. An unbound mapping leaves reference fields out (unknown) in both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from einklang.model import (
    CanonicalRecord,
    CanonicalValue,
    EntitySpec,
    NormalizeContext,
    display,
    field_coercer,
    ref_set,
    ref_set_value,
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
    ref_value: str | None = None  # for a ref field: the referenced record's field the system holds

    def __post_init__(self) -> None:
        unknown = [t for t in self.transforms if t not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown transform(s) {unknown}; known: {sorted(TRANSFORMS)}")
        if self.kind is MapKind.NAME_PART and self.part not in ("first", "last"):
            raise ValueError("name_part needs part: first or last")
        if self.kind is MapKind.COLUMN and len(self.columns) != 1:
            raise ValueError("a column rule maps exactly one column")
        if self.kind is MapKind.NAME_PART and len(self.columns) != 1:
            raise ValueError("a name_part rule reads exactly one column (the full name)")


@dataclass(frozen=True)
class FieldProblem:
    field: str
    value: Any
    reason: str
    kind: str = "invalid_value"  # or "dangling_reference": a reference that points to no linked record

    def __str__(self) -> str:
        return f"{self.field}: {self.reason} (value {self.value!r})"


class ReferenceResolver(Protocol):
    """Translates references between golden ids and what one system holds (see ``bind``)."""

    def golden_for_native(self, entity: str, system: str, native_id: str) -> str | None:
        """The golden id linked to ``native_id`` of ``entity`` in ``system``."""

    def native_for_golden(self, entity: str, system: str, golden_id: str) -> str | None:
        """The native id of ``golden_id`` in ``system``, if it is linked there."""

    def golden_for_value(self, entity: str, field: str, value: CanonicalValue) -> str | None:
        """The one golden record of ``entity`` whose ``field`` is ``value`` (None: none or several)."""

    def value_for_golden(self, entity: str, field: str, golden_id: str) -> CanonicalValue:
        """The agreed value of ``field`` of golden record ``golden_id`` (None: unknown or empty)."""

    def removed(self, golden_id: str) -> str | None:
        """The status of a golden record that is deleted or archived, else None."""


class ReferenceNotReady(Exception):
    """A reference that cannot be written to the system yet: the referenced record is not there.

    ``removed`` is set when the referenced record was deleted or archived (it will not come).
    """

    def __init__(self, field: str, entity: str, golden_id: str, system: str, removed: str | None = None) -> None:
        self.field = field
        self.entity = entity
        self.golden_id = golden_id
        self.system = system
        self.removed = removed
        if removed:
            why = f"the referenced {entity} {golden_id} is {removed}"
        else:
            why = f"waiting for reference: {field} -> {entity} {golden_id} is not yet linked in {system}"
        super().__init__(why)

    def __reduce__(self) -> tuple[type[ReferenceNotReady], tuple[str, str, str, str, str | None]]:
        # travels back from a load's worker processes with its fields
        return ReferenceNotReady, (self.field, self.entity, self.golden_id, self.system, self.removed)


# How ``to_canonical`` reads one rule: (canonical field, the column of a column rule, the reader
# of other rules or else None, raw value -> canonical value, every column the rule reads).
_Reader = tuple[str, str, Callable[[Mapping[str, Any]], Any] | None, Callable[[Any], CanonicalValue], tuple[str, ...]]
# How ``to_native`` writes one rule: (canonical field, the column for a column rule or None,
# the reversed value map or None, the rule).
_Writer = tuple[str, str | None, dict[str, Any] | None, FieldMap]


class EntityMapping:
    """Reads and writes records of one entity in one system's native form.

    The rules are compiled once into a plan of small functions (the type's coercion chosen, the
    transforms looked up, plain column rules kept apart), since an initial load applies the same
    rules to every one of possibly millions of records. ``entity``, ``rules`` and ``ctx`` are
    fixed after construction.
    """

    def __init__(
        self,
        entity: EntitySpec,
        rules: Iterable[FieldMap],
        ctx: NormalizeContext | None = None,
        references: ReferenceResolver | None = None,
        system: str | None = None,
    ) -> None:
        self.entity = entity
        self.rules = tuple(rules)
        self.ctx = ctx or NormalizeContext()
        self.references = references
        self.system = system
        for rule in self.rules:
            spec = entity.field(rule.canonical)
            if rule.ref_value and not spec.ref_entity:
                raise ValueError(f"{rule.canonical}: ref_value is for fields of type ref")
        refs = entity.references()
        # reference rules are translated through the resolver, apart from the compiled plan
        self._ref_rules: tuple[tuple[FieldMap, str], ...] = tuple(
            (rule, refs[rule.canonical]) for rule in self.rules if rule.canonical in refs
        )
        plain_rules = tuple(rule for rule in self.rules if rule.canonical not in refs)
        self._reverse_values = {
            rule.canonical: {canon: native for native, canon in rule.values.items()}
            for rule in plain_rules
            if rule.values
        }
        self._readers: tuple[_Reader, ...] = tuple(self._reader(rule) for rule in plain_rules)
        self._writers: tuple[_Writer, ...] = tuple(
            (
                rule.canonical,
                rule.columns[0] if rule.kind is MapKind.COLUMN else None,
                self._reverse_values.get(rule.canonical),
                rule,
            )
            for rule in plain_rules
            if not rule.read_only
        )
        self._ref_writers = tuple((rule, ref) for rule, ref in self._ref_rules if not rule.read_only)
        # The usual write-back (all writable fields, nothing but plain columns) is one dict build.
        self._plain_writes: tuple[tuple[str, str], ...] | None = None
        if all(column is not None and reverse is None for _, column, reverse, _ in self._writers):
            self._plain_writes = tuple((canonical, column) for canonical, column, _, _ in self._writers if column)

    def __reduce__(
        self,
    ) -> tuple[
        type[EntityMapping],
        tuple[EntitySpec, tuple[FieldMap, ...], NormalizeContext, ReferenceResolver | None, str | None],
    ]:
        # The compiled plan holds closures; a copy (or a worker process) compiles its own.
        return EntityMapping, (self.entity, self.rules, self.ctx, self.references, self.system)

    def bind(self, references: ReferenceResolver, system: str) -> EntityMapping:
        """This mapping, translating its reference fields for ``system`` through ``references``."""
        return EntityMapping(self.entity, self.rules, self.ctx, references, system)

    @property
    def reference_fields(self) -> dict[str, str]:
        """Mapped reference fields -> the entity each refers to."""
        return {rule.canonical: entity for rule, entity in self._ref_rules}

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
        """The canonical values of ``native``, and the values that could not be normalised.

        A field whose native column(s) ``native`` does not carry is left out (unknown), as is a
        field whose value is invalid; neither is ever read as empty.
        """
        record: CanonicalRecord = {}
        problems: list[FieldProblem] = []
        for canonical, column, read, convert, columns in self._readers:
            if read is None:
                if column not in native:
                    continue  # not read: unknown, not empty
                raw = native[column]
            else:
                if not all(name in native for name in columns):
                    continue  # a join of what was read would pass a part for the whole
                # A reader's own errors (a full name without any word) are not field problems.
                raw = read(native)
            try:
                record[canonical] = convert(raw)
            except InvalidValue as exc:
                problems.append(FieldProblem(canonical, raw, exc.reason))
        if self._ref_rules and self.references is not None:
            self._read_references(native, record, problems)
        return record, problems

    def _read_references(
        self, native: Mapping[str, Any], record: CanonicalRecord, problems: list[FieldProblem]
    ) -> None:
        """Native reference values -> golden ids; one that points to no linked record is a problem."""
        references, system = self.references, self.system or ""
        assert references is not None
        for rule, entity in self._ref_rules:
            column = rule.columns[0]
            if column not in native:
                continue  # not read: unknown
            raw = native[column]
            if self.entity.field(rule.canonical).ref_many:
                self._read_many(rule, entity, raw, record, problems)
                continue
            text = clean_text(_as_text(raw))
            if text is None:
                record[rule.canonical] = None
                continue
            if rule.ref_value:
                golden = references.golden_for_value(entity, rule.ref_value, text)
                where = f"no single {entity} with {rule.ref_value} {text!r}"
            else:
                golden = references.golden_for_native(entity, system, text)
                where = f"no {entity} record {text!r} is linked in {system}"
            if golden is None:
                problems.append(
                    FieldProblem(rule.canonical, raw, f"reference points nowhere: {where}", "dangling_reference")
                )
            else:
                record[rule.canonical] = golden

    def _golden_for(self, rule: FieldMap, entity: str, text: str) -> tuple[str | None, str]:
        """One native reference value -> its golden id (or None) and, for a miss, where it points."""
        references, system = self.references, self.system or ""
        assert references is not None
        if rule.ref_value:
            return references.golden_for_value(entity, rule.ref_value, text), (
                f"no single {entity} with {rule.ref_value} {text!r}"
            )
        return references.golden_for_native(entity, system, text), f"no {entity} record {text!r} is linked in {system}"

    def _read_many(
        self, rule: FieldMap, entity: str, raw: Any, record: CanonicalRecord, problems: list[FieldProblem]
    ) -> None:
        """A list of native references -> the set of golden ids; one element pointing nowhere holds the field."""
        if raw is None:
            record[rule.canonical] = None
            return
        if isinstance(raw, str | bytes) or not isinstance(raw, list | tuple | set | frozenset):
            problems.append(FieldProblem(rule.canonical, raw, "a many reference needs a list of references"))
            return
        goldens: list[str] = []
        for element in raw:
            text = clean_text(_as_text(element))
            if text is None:
                continue
            golden, where = self._golden_for(rule, entity, text)
            if golden is None:
                problems.append(
                    FieldProblem(rule.canonical, raw, f"reference points nowhere: {where}", "dangling_reference")
                )
                return  # never a part of the set: the field stays unknown
            goldens.append(golden)
        record[rule.canonical] = ref_set_value(goldens)

    def _reader(self, rule: FieldMap) -> _Reader:
        coerce_value = field_coercer(self.entity.field(rule.canonical), self.ctx)
        transforms = tuple(TRANSFORMS[name] for name in rule.transforms)
        values = rule.values
        convert = coerce_value
        if transforms or values:

            def convert(raw: Any) -> CanonicalValue:
                if isinstance(raw, str):
                    for transform in transforms:
                        raw = transform(raw)
                    if values:
                        raw = values.get(raw.strip(), raw)
                elif raw is not None and values:
                    raw = values.get(str(raw), raw)
                return coerce_value(raw)

        if rule.kind is MapKind.COLUMN:
            return rule.canonical, rule.columns[0], None, convert, rule.columns
        columns = rule.columns
        if rule.kind is MapKind.JOIN:
            sep = rule.sep

            def read(native: Mapping[str, Any]) -> Any:
                parts = []
                for column in columns:
                    value = native.get(column)
                    if value is not None:
                        part = clean_text(value if isinstance(value, str) else str(value))
                        if part:
                            parts.append(part)
                return sep.join(parts) or None

        else:
            first_part = rule.part == "first"

            def read(native: Mapping[str, Any]) -> Any:
                # columns[0] is looked up here, not once: a rule without columns fails only in use
                full = clean_text(_as_text(native.get(columns[0])))
                if full is None:
                    return None
                first, last = split_full_name(full)
                return first if first_part else last

        return rule.canonical, "", read, convert, columns

    def to_native(self, record: Mapping[str, CanonicalValue], only: Iterable[str] | None = None) -> dict[str, Any]:
        """Native column values for the canonical fields ``only`` (default: all mapped, writable).

        Without ``only``, fields ``record`` does not hold (unknown) are not written at all, and a
        full-name column is written only when the record holds all of its parts.
        """
        if only is None:
            if self._plain_writes is not None:
                plain = {column: record[canonical] for canonical, column in self._plain_writes if canonical in record}
                if self._ref_writers and self.references is not None:
                    self._write_references(record, plain, None)
                return plain
            writers: Iterable[_Writer] = [
                writer for writer in self._writers if writer[0] in record and self._parts_known(writer[3], record)
            ]
        else:
            wanted = set(only)
            writers = [writer for writer in self._writers if writer[0] in wanted]
        native: dict[str, Any] = {}
        name_parts: dict[str, dict[str, str | None]] = {}
        for canonical, column, reverse, rule in writers:
            value = record.get(canonical)
            if column is not None:
                if reverse is not None and isinstance(value, str):
                    value = reverse.get(value, value)
                native[column] = value
            elif rule.kind is MapKind.NAME_PART:
                name_column = rule.columns[0]
                parts = name_parts.setdefault(name_column, {})
                parts[rule.part] = display(value) or None
                # the sibling part is needed to rebuild the column; take it from the record
                for sibling in self.rules:
                    if sibling.kind is MapKind.NAME_PART and sibling.columns[0] == name_column:
                        parts.setdefault(sibling.part, display(record.get(sibling.canonical)) or None)
            else:
                if value is not None and reverse is not None and isinstance(value, str):
                    value = reverse.get(value, value)
                native.update(self._split(rule, value))
        for name_column, parts in name_parts.items():
            native[name_column] = join_person_name(parts.get("first"), parts.get("last")) or None
        if self._ref_writers and self.references is not None:
            self._write_references(record, native, None if only is None else set(only))
        return native

    def _write_references(
        self, record: Mapping[str, CanonicalValue], native: dict[str, Any], wanted: set[str] | None
    ) -> None:
        """Golden ids -> what the system holds; raises ReferenceNotReady where that is not there yet."""
        references, system = self.references, self.system or ""
        assert references is not None
        for rule, entity in self._ref_writers:
            name = rule.canonical
            if (name not in record) if wanted is None else (name not in wanted):
                continue
            golden = record.get(name)
            if golden is None:
                native[rule.columns[0]] = None
                continue
            golden = str(golden)
            if self.entity.field(name).ref_many:
                # every element resolves or the write waits: never a part of the set
                native[rule.columns[0]] = sorted(
                    (self._native_reference(rule, entity, element) for element in ref_set(golden)),
                    key=_natural_key,
                )
                continue
            if rule.ref_value:
                value = references.value_for_golden(entity, rule.ref_value, golden)
                if value is None:
                    raise ReferenceNotReady(name, entity, golden, system, references.removed(golden))
                native[rule.columns[0]] = display(value)
                continue
            native_id = references.native_for_golden(entity, system, golden)
            if native_id is None:
                raise ReferenceNotReady(name, entity, golden, system, references.removed(golden))
            native[rule.columns[0]] = native_id

    def _native_reference(self, rule: FieldMap, entity: str, golden: str) -> str:
        """What the system holds for one referenced record; ReferenceNotReady where it is not there yet."""
        references, system = self.references, self.system or ""
        assert references is not None
        if rule.ref_value:
            value = references.value_for_golden(entity, rule.ref_value, golden)
            if value is None:
                raise ReferenceNotReady(rule.canonical, entity, golden, system, references.removed(golden))
            return display(value)
        native_id = references.native_for_golden(entity, system, golden)
        if native_id is None:
            raise ReferenceNotReady(rule.canonical, entity, golden, system, references.removed(golden))
        return native_id

    def _parts_known(self, rule: FieldMap, record: Mapping[str, CanonicalValue]) -> bool:
        if rule.kind is not MapKind.NAME_PART:
            return True
        return all(
            sibling.canonical in record
            for sibling in self.rules
            if sibling.kind is MapKind.NAME_PART and sibling.columns[0] == rule.columns[0]
        )

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


def _natural_key(text: str) -> tuple[int, int | str]:
    # native ids in numeric order where they are numbers (Tryton's), else as text
    return (0, int(text)) if text.isdigit() else (1, text)

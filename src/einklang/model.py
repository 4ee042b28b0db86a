"""Canonical model: entities, typed fields, canonical values and their stable encoding.

Values are normalised on entry (``coerce``), so formatting noise such as ``030 123`` versus
``+4930123`` is never seen as a change. The encoding used for hashing and for the state store
(``encode``/``decode``) is deterministic so that equal records always hash equally.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import orjson

from einklang.normalize.country import normalize_country
from einklang.normalize.email import normalize_email
from einklang.normalize.errors import InvalidValue
from einklang.normalize.phone import normalize_phone_keeping_extension
from einklang.normalize.text import clean_text

CanonicalValue = str | int | Decimal | dt.date | dt.datetime | bool | None
CanonicalRecord = dict[str, CanonicalValue]


class FieldType(StrEnum):
    STR = "str"
    TEXT = "text"
    INT = "int"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"
    ENUM = "enum"
    PHONE = "phone"
    EMAIL = "email"
    COUNTRY = "country"
    REF = "ref"  # the golden id of another entity's record (docs/references.md)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType = FieldType.STR
    enum_values: tuple[str, ...] = ()
    required: bool = False
    ref_entity: str | None = None  # for REF: the entity the field points to
    ref_many: bool = False  # for REF: a set of referenced records (see ``ref_set``)


@dataclass(frozen=True)
class EntitySpec:
    name: str
    fields: Mapping[str, FieldSpec]
    keys: tuple[str, ...] = ()

    def references(self) -> dict[str, str]:
        """field -> the entity it refers to, for the entity's ``ref`` fields."""
        return {name: spec.ref_entity for name, spec in self.fields.items() if spec.ref_entity}

    def field(self, name: str) -> FieldSpec:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"entity {self.name!r} has no field {name!r}") from None


@dataclass(frozen=True)
class NormalizeContext:
    """Settings that normalisation depends on (kept explicit so the core stays pure)."""

    default_region: str = "DE"
    extra: Mapping[str, str] = field(default_factory=dict)


_TRUE = {"1", "true", "yes", "y", "ja", "j", "wahr", "x", "on"}
_FALSE = {"0", "false", "no", "n", "nein", "falsch", "", "off"}


def coerce(spec: FieldSpec, value: Any, ctx: NormalizeContext | None = None) -> CanonicalValue:
    """Turn a raw value into the canonical value of ``spec``; raise ``InvalidValue`` if impossible."""
    if value is None:
        return None
    kind = spec.type
    if spec.ref_many:
        return ref_set_value(ref_set(value))
    # Identity, not equality: a plain "str" that is no FieldType member was never handled.
    if type(kind) is FieldType:
        simple = _SIMPLE_COERCERS.get(kind)
        if simple is not None:
            return simple(value)
        if kind is FieldType.ENUM:
            return _enum_coercer(spec.enum_values)(value)
        if kind is FieldType.PHONE:
            return _coerce_phone(value, (ctx or NormalizeContext()).default_region)
    return _coerce_unhandled(kind, value)


def field_coercer(spec: FieldSpec, ctx: NormalizeContext | None = None) -> Callable[[Any], CanonicalValue]:
    """``lambda value: coerce(spec, value, ctx)``, with the type dispatch done once.

    For callers that coerce many values of one field (a mapping reading a whole table); None is
    allowed as value, as for ``coerce``.
    """
    kind = spec.type
    if spec.ref_many:
        return lambda value: ref_set_value(ref_set(value))
    if type(kind) is FieldType:
        simple = _SIMPLE_COERCERS.get(kind)
        if simple is not None:
            return simple
        if kind is FieldType.ENUM:
            return _enum_coercer(spec.enum_values)
        if kind is FieldType.PHONE:
            return _phone_coercer((ctx or NormalizeContext()).default_region)
    return functools.partial(_coerce_unhandled, kind)


# One function per field type. Each does what ``coerce`` promises for that type: None stays None,
# a string is cleaned first (blank -> None), and the type's own parsing follows.


def ref_set(value: Any) -> tuple[str, ...]:
    """The golden ids of a many-to-many reference (``many: true``), sorted and without repeats.

    The canonical value of such a field is one text: the sorted ids separated by single spaces
    (golden ids hold no spaces). Being one plain value, it hashes, stores and merges like any
    other field, and two systems listing the same records in another order agree. A list or
    tuple of ids is read as well (a connector's or a test's value)."""
    if value is None:
        return ()
    parts = value.split() if isinstance(value, str) else [str(item).strip() for item in value]
    return tuple(sorted({part for part in parts if part}))


def ref_set_value(golden_ids: Iterable[str]) -> str | None:
    """The canonical value of a set of golden ids (``ref_set``'s inverse); the empty set is None."""
    return " ".join(sorted(set(golden_ids))) or None


def _coerce_str(value: Any) -> CanonicalValue:
    if value is None:
        return None
    if type(value) is str and value.isascii():
        # clean_text's ASCII fast path, inlined: most cells of a load are short ASCII strings.
        return " ".join(value.split()) or None
    return clean_text(value if isinstance(value, str) else str(value))


def _coerce_text(value: Any) -> CanonicalValue:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    text = str(value).replace("\r\n", "\n").strip()
    return text or None


def _cleaned_first(parse: Callable[[Any], CanonicalValue]) -> Callable[[Any], CanonicalValue]:
    """None stays None; a string is cleaned first and a blank one is None; the rest goes to ``parse``."""

    @functools.wraps(parse)
    def coerce_value(value: Any) -> CanonicalValue:
        if value is None:
            return None
        if isinstance(value, str):
            value = clean_text(value)
            if value is None:
                return None
        return parse(value)

    return coerce_value


@_cleaned_first
def _coerce_int(value: Any) -> CanonicalValue:
    if isinstance(value, bool):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            as_decimal = Decimal(str(value))
        except InvalidOperation:
            raise InvalidValue(f"not an integer: {value!r}") from None
        if as_decimal != as_decimal.to_integral_value():
            raise InvalidValue(f"not an integer: {value!r}") from None
        return int(as_decimal)


@_cleaned_first
def _coerce_decimal(value: Any) -> CanonicalValue:
    try:
        text = str(value).strip()
        if isinstance(value, str) and "," in text and "." not in text:
            text = text.replace(",", ".")
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(f"not a decimal number: {value!r}") from None
    return number.normalize() if number != 0 else Decimal(0)


@_cleaned_first
def _coerce_date(value: Any) -> CanonicalValue:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return _parse_date(str(value))


@_cleaned_first
def _coerce_datetime(value: Any) -> CanonicalValue:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue(f"not a date-time: {value!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


@_cleaned_first
def _coerce_bool(value: Any) -> CanonicalValue:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValue(f"not a yes/no value: {value!r}")


def _enum_coercer(enum_values: tuple[str, ...]) -> Callable[[Any], CanonicalValue]:
    @_cleaned_first
    def coerce_enum(value: Any) -> CanonicalValue:
        text = str(value)
        if enum_values and text not in enum_values:
            allowed = ", ".join(enum_values)
            raise InvalidValue(f"{text!r} is not one of: {allowed}")
        return text

    return coerce_enum


def _coerce_unhandled(kind: Any, value: Any) -> CanonicalValue:
    if value is None:
        return None
    if isinstance(value, str) and clean_text(value) is None:
        return None
    raise AssertionError(f"unhandled field type {kind}")


class _NormalizedCache:
    """Remembers raw -> normalised values, and normalised -> itself.

    Normalisation is pure, and a record is mapped more than once (on read, on write-back, in echo
    checks) — the second time already in canonical form. Remembering both directions makes those
    passes and repeated values (same country, same switchboard number) nearly free. The size cap
    keeps a load of millions of distinct values flat in memory.
    """

    __slots__ = ("_limit", "_normalize", "known")

    def __init__(self, normalize: Callable[[str], str], limit: int = 50_000) -> None:
        self._normalize = normalize
        self._limit = limit
        # Cleared in place when full, never replaced: the coercers hold on to its ``get``.
        self.known: dict[str, str] = {}

    def __call__(self, raw: str) -> str:
        known = self.known.get(raw)
        if known is not None:
            return known
        return self.add(raw)

    def add(self, raw: str) -> str:
        """Normalise a value not yet known and remember it."""
        value = self._normalize(raw)  # raises InvalidValue; failures are not cached
        known = self.known
        if len(known) >= self._limit:
            known.clear()
        known[raw] = value
        known[value] = value
        return value


def _cached_coercer(cache: _NormalizedCache) -> Callable[[Any], CanonicalValue]:
    """The coercer of a type normalised through ``cache`` (e-mail, country, phone)."""
    lookup = cache.known.get
    add = cache.add

    @_cleaned_first
    def coerce_cached(value: Any) -> CanonicalValue:
        text = value if isinstance(value, str) else str(value)
        known = lookup(text)
        return known if known is not None else add(text)

    return coerce_cached


_email_cache = _NormalizedCache(normalize_email)
_country_cache = _NormalizedCache(normalize_country, limit=10_000)
_coerce_email = _cached_coercer(_email_cache)
_coerce_country = _cached_coercer(_country_cache)
_phone_coercers: dict[str, Callable[[Any], CanonicalValue]] = {}


def _phone_coercer(region: str) -> Callable[[Any], CanonicalValue]:
    coercer = _phone_coercers.get(region)
    if coercer is None:
        cache = _NormalizedCache(lambda value: normalize_phone_keeping_extension(value, region))
        coercer = _phone_coercers[region] = _cached_coercer(cache)
    return coercer


def _coerce_phone(value: Any, region: str) -> CanonicalValue:
    return _phone_coercer(region)(value)


# Types whose coercion needs neither the field's settings nor the context.
_SIMPLE_COERCERS: dict[FieldType, Callable[[Any], CanonicalValue]] = {
    FieldType.STR: _coerce_str,
    FieldType.TEXT: _coerce_text,
    FieldType.INT: _coerce_int,
    FieldType.DECIMAL: _coerce_decimal,
    FieldType.DATE: _coerce_date,
    FieldType.DATETIME: _coerce_datetime,
    FieldType.BOOL: _coerce_bool,
    FieldType.EMAIL: _coerce_email,
    FieldType.COUNTRY: _coerce_country,
    # a reference's canonical value is a golden id; the mapping turns native values into it
    FieldType.REF: _coerce_str,
}
assert set(FieldType) == {*_SIMPLE_COERCERS, FieldType.ENUM, FieldType.PHONE}, "a field type without coercion"


def _parse_date(text: str) -> dt.date:
    text = text.strip()
    for parse in (
        dt.date.fromisoformat,
        lambda s: dt.datetime.strptime(s, "%d.%m.%Y").date(),
        lambda s: dt.datetime.strptime(s, "%d.%m.%y").date(),
        lambda s: dt.datetime.strptime(s, "%m/%d/%Y").date(),
    ):
        try:
            return parse(text)
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise InvalidValue(f"not a date: {text!r}") from None


def encode(value: CanonicalValue) -> Any:
    """JSON-safe, type-tagged where JSON would lose the type (decimals, dates)."""
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    return value


def decode(value: Any) -> CanonicalValue:
    if isinstance(value, dict):
        if "$dec" in value:
            return Decimal(value["$dec"])
        if "$dt" in value:
            return dt.datetime.fromisoformat(value["$dt"])
        if "$date" in value:
            return dt.date.fromisoformat(value["$date"])
        raise ValueError(f"unknown encoded value {value!r}")
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    raise ValueError(f"cannot decode {value!r}")


# values JSON keeps as they are (the common case: no call of ``encode`` for them)
_AS_IS: frozenset[type] = frozenset({str, int, bool, type(None)})


def encode_record(record: Mapping[str, CanonicalValue]) -> dict[str, Any]:
    return {name: value if type(value) in _AS_IS else encode(value) for name, value in sorted(record.items())}


def decode_record(data: Mapping[str, Any]) -> CanonicalRecord:
    return {name: value if type(value) in _AS_IS else decode(value) for name, value in data.items()}


def load_record(text: str) -> CanonicalRecord:
    """The canonical record stored as ``text`` (:func:`record_json`)."""
    return decode_record(load_json(text))


# 19 digits in a row: maybe an integer beyond 64 bits, which orjson would read as a float
_LONG_DIGITS = re.compile(r"\d{19}")


def load_json(text: str) -> Any:
    """``json.loads``, through orjson where it reads the same values (several times faster)."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # NaN, lone surrogates, ...: what json reads, orjson may not
            pass
    return json.loads(text)


def record_json(record: Mapping[str, CanonicalValue]) -> str:
    """The record's stable text: sorted keys, no spaces, non-ASCII characters as they are.

    Written by orjson (several times faster than json) where the text is the same byte for
    byte as ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)``,
    which stays the definition (stored hashes depend on it): floats are left to json (their
    shortest forms differ, e.g. ``1e+16``), and whatever orjson refuses (integers beyond 64 bits,
    lone surrogates) too.
    """
    encoded = encode_record(record)
    if float not in map(type, encoded.values()):
        try:
            return orjson.dumps(encoded, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:
            pass
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: Mapping[str, CanonicalValue]) -> str:
    """Stable digest of a canonical record; None-valued fields count as absent."""
    present = {name: value for name, value in record.items() if value is not None}
    return _digest(record_json(present))


def record_json_and_hash(record: Mapping[str, CanonicalValue]) -> tuple[str, str]:
    """``(record_json(record), record_hash(record))``, encoding the record once where it can."""
    text = record_json(record)
    if any(value is None for value in record.values()):
        return text, record_hash(record)
    return text, _digest(text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def display(value: CanonicalValue) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

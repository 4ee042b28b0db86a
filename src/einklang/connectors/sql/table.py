"""One entity bound to its reflected table, and how rows become versions and change cursors."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from einklang.connectors.base import (
    ConfigurationError,
    JsonValue,
)
from einklang.connectors.sql.options import SqlEntityOptions

_INTEGER = re.compile(r"-?[0-9]+")

DEFAULT_PAGE_SIZE = 1000
# Enough for the bind-parameter limits of every supported backend (SQLite: 32766).
ID_CHUNK = 500

CHANGE_KEY_LABEL = "_einklang_change_key"


@dataclass(frozen=True)
class BoundEntity:
    """An entity's options checked against its reflected table."""

    name: str
    options: SqlEntityOptions
    table: sa.Table
    id_column: sa.Column[Any]
    changed_column: sa.Column[Any] | None
    # What change cursors compare and order by: the column itself, or on SQLite its stored text
    # (see _change_key).
    changed_key: sa.ColumnElement[Any] | None
    deleted_column: sa.Column[Any] | None
    generated_id: bool
    id_python_type: type | None

    def live(self) -> sa.ColumnElement[bool]:
        """Rows not flagged deleted; a NULL flag counts as live."""
        if self.deleted_column is None:
            return sa.true()
        return sa.or_(self.deleted_column != self.options.deleted_value, self.deleted_column.is_(None))

    def flagged_deleted(self, row: Row[Any]) -> bool:
        if self.deleted_column is None:
            return False
        return bool(row._mapping[self.deleted_column.name] == self.options.deleted_value)

    def native_id(self, row: Row[Any]) -> str:
        return str(row._mapping[self.id_column.name])

    def id_value(self, native_id: str) -> Any:
        """The id as the column's Python type, or None when it cannot be one (no such row)."""
        wanted = self.id_python_type
        if wanted is None or wanted is str:
            return native_id
        try:
            if wanted is int:
                return int(native_id)
            if wanted is uuid.UUID:
                return uuid.UUID(native_id)
            if wanted is Decimal:
                return Decimal(native_id)
        except ValueError:
            return None
        return native_id

    def column(self, name: str, *, system: str, purpose: str) -> sa.Column[Any]:
        return require_column(self.table, name, system=system, entity=self.name, purpose=purpose)

    @functools.cached_property
    def integer_columns(self) -> frozenset[str]:
        return frozenset(c.name for c in self.table.c if column_python_type(c) is int)

    def typed(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """``record`` with integer text in integer columns as numbers.

        A reference is written as the referenced record's native id, which einklang keeps as
        text; a foreign-key column of integers wants the number (PostgreSQL refuses text, and
        SQLite would hand back a number that no longer equals what was sent).
        """
        integers = self.integer_columns
        if not integers or not any(type(record.get(name)) is str for name in integers):
            return record
        typed = dict(record)
        for name in integers:
            value = typed.get(name)
            if type(value) is str and _INTEGER.fullmatch(value):
                typed[name] = int(value)
        return typed


def require_column(table: sa.Table, name: str, *, system: str, entity: str, purpose: str) -> sa.Column[Any]:
    try:
        return table.c[name]
    except KeyError:
        raise ConfigurationError(
            f"entity {entity!r}: table {table.fullname!r} has no column {name!r} ({purpose}); "
            f"columns: {', '.join(table.c.keys())}",
            system=system,
        ) from None


def column_python_type(column: sa.Column[Any]) -> type | None:
    try:
        python_type: type = column.type.python_type
    except NotImplementedError:
        return None
    return python_type


def record_version(bound: BoundEntity, fields: Mapping[str, Any]) -> str:
    if bound.changed_column is not None:
        value = fields[bound.changed_column.name]
        if value is not None:
            return value.isoformat() if isinstance(value, datetime | date) else str(value)
    # No change column (snapshot mode) or a row never stamped: the content is the version.
    return row_hash(fields)


# Types whose repr() spells out both the type and the exact value, deterministically. A row of
# only these is hashed from the repr of its items, which runs in C; the initial load computes a
# hash per created row in snapshot mode, and the Python-level tagging below costs several times
# more. (The two encodings never meet: a given table always takes the same path.)
_REPR_EXACT_TYPES = frozenset(
    {str, int, bool, float, type(None), Decimal, datetime, date, dt_time, timedelta, bytes, uuid.UUID}
)


def row_hash(fields: Mapping[str, Any]) -> str:
    """A stable, type-aware digest of a row: equal only if every column has an equal value."""
    items = sorted(fields.items())
    if _REPR_EXACT_TYPES.issuperset(map(type, fields.values())):
        canonical = repr(items)
    else:
        canonical = json.dumps([[name, _tagged(value)] for name, value in items], ensure_ascii=False)
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _tagged(value: Any) -> Any:
    # The tag keeps 1, True, "1" and 1.0 apart, and Decimal/float rendering exact.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value) if math.isfinite(value) else str(value)]
    if isinstance(value, Decimal):
        return ["decimal", str(value)]
    if isinstance(value, datetime | date):
        return [type(value).__name__, value.isoformat()]
    if isinstance(value, bytes | bytearray | memoryview):
        return ["bytes", bytes(value).hex()]
    return [type(value).__name__, str(value)]


def json_scalar(value: Any) -> JsonValue:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def from_json_scalar(stored: Any, column: sa.Column[Any]) -> Any:
    python_type = column_python_type(column)
    if isinstance(stored, str):
        if python_type is datetime:
            return datetime.fromisoformat(stored)
        if python_type is date:
            return date.fromisoformat(stored)
        if python_type is Decimal:
            return Decimal(stored)
    return stored

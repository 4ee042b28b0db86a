"""Options of the sql connector: the connection settings and, per entity, the table binding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from einklang.connectors.base import (
    ChangeDetection,
    ConfigurationError,
)

SETTINGS = frozenset({"url", "password", "schema"})

ENTITY_OPTIONS = frozenset(
    {
        "table",
        "id",
        "changed",
        "changed_kind",
        "set_changed",
        "deleted",
        "deleted_value",
        "overlap_seconds",
        "overlap_versions",
        "page_size",
        "correlation",
        "archive",
        "generated_id",
    }
)



@dataclass(frozen=True)
class ArchiveRule:
    """How the sync engine archives a record in this table instead of deleting it."""

    column: str
    value: Any


@dataclass(frozen=True)
class SqlEntityOptions:
    table: str
    id: str
    changed: str | None = None
    changed_kind: ChangeDetection = ChangeDetection.TIMESTAMP
    set_changed: bool = False
    deleted: str | None = None
    deleted_value: Any = True
    overlap_seconds: float = 2.0
    overlap_versions: int = 0
    page_size: int | None = None
    correlation: str | None = None
    archive: ArchiveRule | None = None
    generated_id: bool | None = None  # None: decided from the reflected id column

    @property
    def change_detection(self) -> ChangeDetection:
        return self.changed_kind if self.changed else ChangeDetection.SNAPSHOT

    @classmethod
    def parse(cls, system: str, entity: str, raw: Mapping[str, Any]) -> SqlEntityOptions:
        def fail(message: str) -> ConfigurationError:
            return ConfigurationError(f"entity {entity!r}: {message}", system=system)

        unknown = sorted(set(raw) - ENTITY_OPTIONS)
        if unknown:
            known = ", ".join(sorted(ENTITY_OPTIONS))
            raise fail(f"unknown option {', '.join(map(repr, unknown))} (sql knows: {known})")
        for required in ("table", "id"):
            if not isinstance(raw.get(required), str) or not raw[required]:
                raise fail(
                    f"option {required!r} is required and names a {required} column"
                    if required == "id"
                    else f"option {required!r} is required"
                )
        for name in ("changed", "deleted", "correlation"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise fail(f"option {name!r} must be a column name")

        try:
            kind = ChangeDetection(raw.get("changed_kind", "timestamp"))
        except ValueError:
            kind = None
        if kind not in (ChangeDetection.TIMESTAMP, ChangeDetection.ROW_VERSION):
            raise fail(f"option 'changed_kind' must be timestamp or row_version, not {raw['changed_kind']!r}")
        if "changed_kind" in raw and not raw.get("changed"):
            raise fail("option 'changed_kind' needs option 'changed'")

        set_changed = raw.get("set_changed", kind is ChangeDetection.TIMESTAMP and bool(raw.get("changed")))
        if not isinstance(set_changed, bool):
            raise fail("option 'set_changed' must be true or false")
        if set_changed and not raw.get("changed"):
            raise fail("option 'set_changed' needs option 'changed'")
        if set_changed and kind is ChangeDetection.ROW_VERSION:
            # A per-row counter is no change cursor, and a table-wide maximum + 1 computed here
            # would race with every other writer: only the database can hand out row versions.
            raise fail(
                "set_changed cannot be used with changed_kind row_version; "
                "the database must maintain the row version (trigger or sequence default)"
            )

        overlap = raw.get("overlap_seconds", 2)
        if isinstance(overlap, bool) or not isinstance(overlap, int | float) or overlap < 0:
            raise fail("option 'overlap_seconds' must be a number >= 0")
        overlap_versions = raw.get("overlap_versions", 0)
        if isinstance(overlap_versions, bool) or not isinstance(overlap_versions, int) or overlap_versions < 0:
            raise fail("option 'overlap_versions' must be an integer >= 0")
        page_size = raw.get("page_size")
        if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1):
            raise fail("option 'page_size' must be a positive integer")
        generated_id = raw.get("generated_id")
        if generated_id is not None and not isinstance(generated_id, bool):
            raise fail("option 'generated_id' must be true or false")

        archive = None
        if raw.get("archive") is not None:
            spec = raw["archive"]
            if not isinstance(spec, Mapping) or set(spec) != {"column", "value"} or not isinstance(spec["column"], str):
                raise fail("option 'archive' must be {column: <column>, value: <value>}")
            archive = ArchiveRule(spec["column"], spec["value"])

        return cls(
            table=raw["table"],
            id=raw["id"],
            changed=raw.get("changed"),
            changed_kind=kind,
            set_changed=set_changed,
            deleted=raw.get("deleted"),
            deleted_value=raw.get("deleted_value", True),
            overlap_seconds=float(overlap),
            overlap_versions=overlap_versions,
            page_size=page_size,
            correlation=raw.get("correlation"),
            archive=archive,
            generated_id=generated_id,
        )


"""Settings of the sql connector: the connection, and per entity the table binding."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from einklang.connectors.base import ChangeDetection
from einklang.connectors.settings import (
    ArchiveRule,
    ConnectorSettings,
    Flag,
    Name,
    NonNegativeInt,
    NonNegativeNumber,
    PositiveInt,
    PositiveNumber,
    Secret,
)
from einklang.connectors.sql.dialect import database_url


class SqlSettings(ConnectorSettings):
    url: Name  # a SQLAlchemy URL; plain postgresql:// and mysql:// get psycopg 3 and PyMySQL
    password: Secret | None = None  # injected into the URL, so the URL itself can live in the file
    # ``schema`` would shadow a BaseModel attribute: the key is ``schema``, the field another name.
    database_schema: Name | None = Field(None, alias="schema")
    # Seconds to wait for a connection (PostgreSQL, MariaDB/MySQL): a server that accepts but
    # never answers is reported unavailable after this long instead of hanging.
    timeout: PositiveNumber = 10.0

    @field_validator("url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        database_url(url)
        return url


class SqlEntityOptions(ConnectorSettings):
    table: Name
    id: Name
    changed: Name | None = None
    changed_kind: ChangeDetection = ChangeDetection.TIMESTAMP
    set_changed: Flag | None = None  # default: with a timestamp change column, yes
    deleted: Name | None = None
    deleted_value: Any = True
    overlap_seconds: NonNegativeNumber = 2.0
    overlap_versions: NonNegativeInt = 0
    page_size: PositiveInt | None = None
    correlation: Name | None = None
    archive: ArchiveRule | None = None
    generated_id: Flag | None = None  # None: decided from the reflected id column

    @field_validator("changed_kind", mode="before")
    @classmethod
    def _cursor_kinds(cls, value: Any) -> Any:
        if value not in (ChangeDetection.TIMESTAMP.value, ChangeDetection.ROW_VERSION.value):
            raise ValueError("must be timestamp or row_version")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SqlEntityOptions:
        given = self.model_fields_set
        if "changed_kind" in given and not self.changed:
            raise ValueError("option 'changed_kind' needs option 'changed'")
        if self.set_changed and not self.changed:
            raise ValueError("option 'set_changed' needs option 'changed'")
        if self.set_changed and self.changed_kind is ChangeDetection.ROW_VERSION:
            # A per-row counter is no change cursor, and a table-wide maximum + 1 computed here
            # would race with every other writer: only the database can hand out row versions.
            raise ValueError(
                "set_changed cannot be used with changed_kind row_version; "
                "the database must maintain the row version (trigger or sequence default)"
            )
        return self

    @property
    def stamps_changed(self) -> bool:
        """Whether the connector writes the change column itself (``set_changed``)."""
        if self.set_changed is not None:
            return self.set_changed
        return self.changed_kind is ChangeDetection.TIMESTAMP and self.changed is not None

    @property
    def change_detection(self) -> ChangeDetection:
        return self.changed_kind if self.changed else ChangeDetection.SNAPSHOT

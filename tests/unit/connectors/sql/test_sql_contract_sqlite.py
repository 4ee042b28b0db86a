"""The connector contract for the sql connector on SQLite, in each change-detection mode."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from einklang.connectors.base import ChangeDetection
from einklang.connectors.sql import SqlConnector
from einklang.testing.contract import ConnectorContract, SqlTableBackDoor


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SqliteContract(ConnectorContract):
    """One SQLite file per test, made from ``ddl``; subclasses pick the table's shape."""

    ddl: ClassVar[list[str]]
    options: ClassVar[dict[str, Any]]
    expected_mode: ClassVar[ChangeDetection]
    stamp: ClassVar[dict[str, Callable[[], Any]]] = {}
    soft_delete: ClassVar[dict[str, Any] | None] = None

    @pytest.fixture
    def database_url(self, tmp_path: Path) -> str:
        url = f"sqlite:///{tmp_path / 'system.db'}"
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for statement in self.ddl:
                conn.exec_driver_sql(statement)
        engine.dispose()
        return url

    @pytest.fixture
    def connector(self, database_url: str) -> Iterator[SqlConnector]:
        entity = {"table": "contact", "id": "id", "page_size": self.page_size, **self.options}
        with SqlConnector("erp", {"url": database_url}, {"contact": entity}) as connector:
            assert connector.capabilities("contact").change_detection is self.expected_mode
            yield connector

    @pytest.fixture
    def backdoor(self, database_url: str) -> Iterator[SqlTableBackDoor]:
        engine = sa.create_engine(database_url)
        yield SqlTableBackDoor(engine, "contact", "id", stamp=self.stamp, soft_delete=self.soft_delete)
        engine.dispose()


class TestTimestampSetByConnector(SqliteContract):
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT, changed_at TIMESTAMP)"
    ]
    options: ClassVar[dict[str, Any]] = {"changed": "changed_at"}
    expected_mode = ChangeDetection.TIMESTAMP
    stamp: ClassVar[dict[str, Callable[[], Any]]] = {"changed_at": utc_now}


class TestTimestampKeptByTrigger(SqliteContract):
    """As a typical SQLite application keeps it: a trigger writes text in SQLite's own format."""

    ddl: ClassVar[list[str]] = [
        "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT,"
        " geaendert_am TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))",
        "CREATE TRIGGER contact_stamp AFTER UPDATE OF name, email, city ON contact BEGIN"
        " UPDATE contact SET geaendert_am = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id; END",
    ]
    options: ClassVar[dict[str, Any]] = {"changed": "geaendert_am", "set_changed": False}
    expected_mode = ChangeDetection.TIMESTAMP

    def settle(self) -> None:
        time.sleep(0.003)  # the trigger's stamps have millisecond resolution


class TestRowVersionKeptByTrigger(SqliteContract):
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT, rv INTEGER)",
        "CREATE TABLE row_versions (last INTEGER NOT NULL)",
        "INSERT INTO row_versions VALUES (0)",
        "CREATE TRIGGER contact_insert AFTER INSERT ON contact BEGIN"
        " UPDATE row_versions SET last = last + 1;"
        " UPDATE contact SET rv = (SELECT last FROM row_versions) WHERE id = NEW.id; END",
        "CREATE TRIGGER contact_update AFTER UPDATE OF name, email, city ON contact BEGIN"
        " UPDATE row_versions SET last = last + 1;"
        " UPDATE contact SET rv = (SELECT last FROM row_versions) WHERE id = NEW.id; END",
    ]
    options: ClassVar[dict[str, Any]] = {"changed": "rv", "changed_kind": "row_version"}
    expected_mode = ChangeDetection.ROW_VERSION


class TestSnapshot(SqliteContract):
    ddl: ClassVar[list[str]] = ["CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT)"]
    options: ClassVar[dict[str, Any]] = {}
    expected_mode = ChangeDetection.SNAPSHOT


class TestSnapshotWithCallerSuppliedTextIds(SqliteContract):
    ddl: ClassVar[list[str]] = ["CREATE TABLE contact (id VARCHAR(40) PRIMARY KEY, name TEXT, email TEXT, city TEXT)"]
    options: ClassVar[dict[str, Any]] = {}
    expected_mode = ChangeDetection.SNAPSHOT

    def new_record(self, name: str, email: str | None = None, city: str | None = None) -> dict[str, Any]:
        return {"id": f"K-{uuid.uuid4().hex[:12]}", **super().new_record(name, email, city)}

    def missing_id(self) -> str:
        return "K-does-not-exist"


class TestSoftDeleteWithActiveFlag(SqliteContract):
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT,"
        " changed_at TIMESTAMP, active BOOLEAN NOT NULL DEFAULT 1)"
    ]
    options: ClassVar[dict[str, Any]] = {"changed": "changed_at", "deleted": "active", "deleted_value": False}
    expected_mode = ChangeDetection.TIMESTAMP
    stamp: ClassVar[dict[str, Callable[[], Any]]] = {"changed_at": utc_now}
    soft_delete: ClassVar[dict[str, Any] | None] = {"active": False}


class TestSnapshotWithDeletedFlag(SqliteContract):
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT,"
        " geloescht BOOLEAN NOT NULL DEFAULT 0)"
    ]
    options: ClassVar[dict[str, Any]] = {"deleted": "geloescht"}
    expected_mode = ChangeDetection.SNAPSHOT
    soft_delete: ClassVar[dict[str, Any] | None] = {"geloescht": True}

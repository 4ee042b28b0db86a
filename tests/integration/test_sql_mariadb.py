"""The sql connector on the real MariaDB: the connector contract and MariaDB specifics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from einklang.connectors.base import ChangeDetection, RecordRejected
from einklang.connectors.sql import SqlConnector
from einklang.testing.contract import ConnectorContract, SqlTableBackDoor, live_ids

pytestmark = pytest.mark.integration


def execute(url: URL, statements: list[str]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def connection_settings(url: URL) -> dict[str, Any]:
    # As einklang users write it: a plain mysql:// URL; the connector picks PyMySQL and utf8mb4.
    return {"url": url.set(drivername="mysql").render_as_string(hide_password=False)}


class MariadbContract(ConnectorContract):
    ddl: ClassVar[list[str]]
    options: ClassVar[dict[str, Any]]
    expected_mode: ClassVar[ChangeDetection]
    stamp: ClassVar[dict[str, Any]] = {}
    soft_delete: ClassVar[dict[str, Any] | None] = None

    @pytest.fixture
    def table(self, mariadb_url: URL) -> URL:
        execute(mariadb_url, ["DROP TABLE IF EXISTS contact", *self.ddl])
        return mariadb_url

    @pytest.fixture
    def connector(self, table: URL) -> Iterator[SqlConnector]:
        entity = {"table": "contact", "id": "id", "page_size": self.page_size, **self.options}
        with SqlConnector("crm", connection_settings(table), {"contact": entity}) as connector:
            assert connector.capabilities("contact").change_detection is self.expected_mode
            yield connector

    @pytest.fixture
    def backdoor(self, table: URL) -> Iterator[SqlTableBackDoor]:
        engine = sa.create_engine(table.update_query_dict({"charset": "utf8mb4"}))
        yield SqlTableBackDoor(engine, "contact", "id", stamp=self.stamp, soft_delete=self.soft_delete)
        engine.dispose()


class TestMariadbTimestampOnUpdate(MariadbContract):
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE contact (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200), email VARCHAR(200),"
        " city VARCHAR(100),"
        " geaendert_am DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))"
    ]
    options: ClassVar[dict[str, Any]] = {"changed": "geaendert_am"}
    expected_mode = ChangeDetection.TIMESTAMP


class TestMariadbTimestampSetByConnector(MariadbContract):
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE contact (id BIGINT AUTO_INCREMENT PRIMARY KEY, name TEXT, email TEXT, city VARCHAR(100),"
        " changed_at DATETIME(6) NULL, aktiv TINYINT(1) NOT NULL DEFAULT 1)"
    ]
    options: ClassVar[dict[str, Any]] = {"changed": "changed_at", "deleted": "aktiv", "deleted_value": False}
    expected_mode = ChangeDetection.TIMESTAMP
    stamp: ClassVar[dict[str, Any]] = {"changed_at": lambda: sa.func.now(sa.literal_column("6"))}
    soft_delete: ClassVar[dict[str, Any] | None] = {"aktiv": 0}


class TestMariadbSnapshotWithTextIds(MariadbContract):
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE contact (id VARCHAR(40) PRIMARY KEY, name VARCHAR(200), email VARCHAR(200), city VARCHAR(100))"
    ]
    options: ClassVar[dict[str, Any]] = {}
    expected_mode = ChangeDetection.SNAPSHOT

    def new_record(self, name: str, email: str | None = None, city: str | None = None) -> dict[str, Any]:
        return {"id": f"C-{uuid.uuid4().hex[:12]}", **super().new_record(name, email, city)}

    def missing_id(self) -> str:
        return "C-does-not-exist"


# --- MariaDB specifics ------------------------------------------------------------------------


def test_check_names_mariadb(mariadb_url: URL) -> None:
    execute(mariadb_url, ["DROP TABLE IF EXISTS probe", "CREATE TABLE probe (id INT PRIMARY KEY)"])
    with SqlConnector("crm", connection_settings(mariadb_url), {"p": {"table": "probe", "id": "id"}}) as c:
        assert c.check().startswith("MariaDB 1")
        assert c.url.query["charset"] == "utf8mb4"


def test_too_long_value_is_a_rejected_record(mariadb_url: URL) -> None:
    execute(
        mariadb_url,
        [
            "DROP TABLE IF EXISTS short_names",
            "CREATE TABLE short_names (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(5) NOT NULL)",
        ],
    )
    entities = {"n": {"table": "short_names", "id": "id"}}
    with SqlConnector("crm", connection_settings(mariadb_url), entities) as connector:
        with pytest.raises(RecordRejected) as raised:
            connector.create("n", [{"name": "ok"}, {"name": "far too long"}])
        assert raised.value.record_id == "#1" and str(raised.value).startswith("crm")
        assert list(live_ids(connector, "n")) == []

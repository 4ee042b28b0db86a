"""``update_many`` of the sql connector on SQLite: one transaction per chunk, versions checked per row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from einklang.connectors.base import NativeRecord, RecordNotFound, RecordRejected, RecordUpdate, StaleVersion
from einklang.connectors.sql import SqlConnector

DDL = "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE, city TEXT, changed_at TIMESTAMP)"


@pytest.fixture
def connector(tmp_path: Path) -> Iterator[SqlConnector]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL)
    engine.dispose()
    entity = {"table": "contact", "id": "id", "changed": "changed_at"}
    sql = SqlConnector("crm", {"url": f"sqlite:///{tmp_path / 'crm.db'}"}, {"contact": entity})
    yield sql
    sql.close()


def created(connector: SqlConnector, count: int) -> list[NativeRecord]:
    return connector.create("contact", [{"name": f"N{i}", "email": f"{i}@x.de"} for i in range(count)])


def test_every_row_is_written_and_comes_back_in_order_with_its_new_version(connector: SqlConnector) -> None:
    records = created(connector, 3)
    updates = [RecordUpdate(r.native_id, {"city": f"C{i}"}, r.version) for i, r in enumerate(records)]
    outcomes = list(connector.update_many("contact", updates))
    assert [o.native_id for o in outcomes if isinstance(o, NativeRecord)] == [r.native_id for r in records]
    stored = connector.get("contact", [r.native_id for r in records])
    for i, (record, outcome) in enumerate(zip(records, outcomes, strict=True)):
        assert isinstance(outcome, NativeRecord)
        assert outcome.fields["city"] == f"C{i}" == stored[record.native_id].fields["city"]
        assert outcome.version == stored[record.native_id].version != record.version  # the change column moved


def test_a_stale_or_missing_row_is_reported_and_the_others_are_written(connector: SqlConnector) -> None:
    first, second, third = created(connector, 3)
    moved = connector.update("contact", second.native_id, {"name": "edited meanwhile"}, second.version)
    updates = [
        RecordUpdate(first.native_id, {"city": "Kiel"}, first.version),
        RecordUpdate(second.native_id, {"city": "Kiel"}, second.version),  # its version moved
        RecordUpdate("999", {"city": "Kiel"}, "whatever"),
        RecordUpdate("not a number", {"city": "Kiel"}, None),
        RecordUpdate(third.native_id, {"name": "Three"}, third.version),
    ]
    outcomes = list(connector.update_many("contact", updates))
    assert [type(o) for o in outcomes] == [NativeRecord, StaleVersion, RecordNotFound, RecordNotFound, NativeRecord]
    assert isinstance(outcomes[1], StaleVersion) and outcomes[1].record_id == second.native_id
    stored = connector.get("contact", [first.native_id, second.native_id, third.native_id])
    assert stored[second.native_id].fields["city"] is None  # untouched: never a blind write
    assert stored[second.native_id].version == moved.version
    assert stored[first.native_id].fields["city"] == "Kiel" and stored[third.native_id].fields["name"] == "Three"


def test_a_row_the_database_refuses_is_named_and_the_others_are_still_written(connector: SqlConnector) -> None:
    first, second, third = created(connector, 3)
    updates = [
        RecordUpdate(first.native_id, {"city": "Kiel"}, first.version),
        RecordUpdate(second.native_id, {"email": "0@x.de"}, second.version),  # taken by the first record
        RecordUpdate(third.native_id, {"city": "Bonn", "name": "Drei"}, third.version),
    ]
    outcomes = list(connector.update_many("contact", updates))
    assert isinstance(outcomes[1], RecordRejected) and outcomes[1].record_id == second.native_id
    assert "UNIQUE" in str(outcomes[1])
    assert isinstance(outcomes[0], NativeRecord) and outcomes[0].fields["city"] == "Kiel"
    assert isinstance(outcomes[2], NativeRecord) and outcomes[2].fields["name"] == "Drei"
    assert connector.get("contact", [second.native_id])[second.native_id].fields["email"] == "1@x.de"


def test_the_same_record_twice_is_written_in_order_and_the_second_checked_against_the_first(
    connector: SqlConnector,
) -> None:
    (record,) = created(connector, 1)
    updates = [
        RecordUpdate(record.native_id, {"city": "Kiel"}, record.version),
        RecordUpdate(record.native_id, {"city": "Bonn"}, record.version),
    ]
    outcomes: list[Any] = list(connector.update_many("contact", updates))
    assert isinstance(outcomes[0], NativeRecord) and isinstance(outcomes[1], StaleVersion)
    assert connector.get("contact", [record.native_id])[record.native_id].fields["city"] == "Kiel"


def test_changing_the_id_column_is_refused_for_that_record_only(connector: SqlConnector) -> None:
    first, second = created(connector, 2)
    updates = [
        RecordUpdate(first.native_id, {"id": 77}, first.version),
        RecordUpdate(second.native_id, {"city": "Kiel"}, second.version),
    ]
    outcomes = list(connector.update_many("contact", updates))
    assert isinstance(outcomes[0], RecordRejected) and "cannot be changed" in str(outcomes[0])
    assert isinstance(outcomes[1], NativeRecord)

"""Batched conditional updates (``update_many``) and the state store's bulk UPDATE on real servers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from einklang.connectors.base import NativeRecord, RecordRejected, RecordUpdate, StaleVersion
from einklang.connectors.sql import SqlConnector
from einklang.store.bulk import update_rows


@pytest.fixture(params=["postgres_url", "mariadb_url"])
def database(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    url = request.getfixturevalue(request.param).render_as_string(hide_password=False)
    table = f"bulk_{uuid.uuid4().hex[:10]}"
    stamp = "TIMESTAMP(6)" if request.param == "postgres_url" else "DATETIME(6)"
    serial = "SERIAL" if request.param == "postgres_url" else "INTEGER AUTO_INCREMENT"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {table} (id {serial} PRIMARY KEY, name VARCHAR(40), email VARCHAR(40) UNIQUE,"
            f" city VARCHAR(40), changed {stamp})"
        )
    yield url, table
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {table}")
    engine.dispose()


def test_update_many_writes_fresh_rows_reports_stale_and_refused_ones(database: tuple[str, str]) -> None:
    url, table = database
    connector = SqlConnector("crm", {"url": url}, {"contact": {"table": table, "id": "id", "changed": "changed"}})
    try:
        first, second, third, fourth = connector.create(
            "contact", [{"name": f"N{i}", "email": f"{i}@x.de"} for i in range(4)]
        )
        connector.update("contact", second.native_id, {"name": "edited meanwhile"}, second.version)
        outcomes: list[Any] = list(
            connector.update_many(
                "contact",
                [
                    RecordUpdate(first.native_id, {"city": "Kiel"}, first.version),
                    RecordUpdate(second.native_id, {"city": "Kiel"}, second.version),
                    RecordUpdate(third.native_id, {"email": "0@x.de"}, third.version),  # taken
                    RecordUpdate(fourth.native_id, {"city": "Bonn", "name": "Vier"}, fourth.version),
                ],
            )
        )
        assert [type(o) for o in outcomes] == [NativeRecord, StaleVersion, RecordRejected, NativeRecord]
        assert outcomes[2].record_id == third.native_id
        stored = connector.get("contact", [first.native_id, second.native_id, third.native_id, fourth.native_id])
        assert stored[first.native_id].fields["city"] == "Kiel" == outcomes[0].fields["city"]
        assert stored[first.native_id].version == outcomes[0].version != first.version
        assert stored[second.native_id].fields["city"] is None  # never a blind write
        assert stored[third.native_id].fields["email"] == "2@x.de"
        assert stored[fourth.native_id].fields["name"] == "Vier"
    finally:
        connector.close()


def test_update_rows_sets_the_columns_of_the_rows_named_by_their_keys(database: tuple[str, str]) -> None:
    url, table_name = database
    engine = sa.create_engine(url)
    try:
        table = sa.Table(table_name, sa.MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"name": f"N{i}", "email": f"{i}@x.de"} for i in range(3)])
        moment = dt.datetime(2026, 12, 6, 12, 30, 15, 123456)
        with engine.begin() as conn:
            update_rows(
                conn,
                table,
                ("name", "email"),
                ("city", "changed"),
                [("N0", "0@x.de", "Kiel", moment), ("N2", "2@x.de", "Köln", None)],
            )
        with engine.connect() as conn:
            rows = {row.name: (row.city, row.changed) for row in conn.execute(sa.select(table))}
        assert rows == {"N0": ("Kiel", moment), "N1": (None, None), "N2": ("Köln", None)}
    finally:
        engine.dispose()

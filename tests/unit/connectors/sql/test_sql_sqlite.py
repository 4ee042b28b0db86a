"""Behaviour of the sql connector beyond the shared contract, on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from einklang.connectors.base import (
    ChangeDetection,
    ConfigurationError,
    RecordNotFound,
    RecordRejected,
    StaleVersion,
    SystemUnavailable,
    load_connector_class,
)
from einklang.connectors.sql import SqlConnector, row_hash
from einklang.testing.contract import MemorySnapshotStore, drain_changes, live_ids

CONTACT_DDL = (
    "CREATE TABLE contact (id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT,"
    " changed_at TIMESTAMP, golden_id TEXT, aktiv BOOLEAN NOT NULL DEFAULT 1)"
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(CONTACT_DDL)
    yield engine
    engine.dispose()


def make_connector(engine: sa.Engine, **options: Any) -> SqlConnector:
    entity = {"table": "contact", "id": "id", "changed": "changed_at", **options}
    return SqlConnector("erp", {"url": engine.url.render_as_string(hide_password=False)}, {"contact": entity})


def insert_raw(engine: sa.Engine, **values: Any) -> int:
    table = sa.Table("contact", sa.MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        key = conn.execute(sa.insert(table).values(values)).inserted_primary_key
    assert key is not None
    return int(key[0])


# --- configuration ----------------------------------------------------------------------


def test_is_registered_as_the_sql_entry_point() -> None:
    assert load_connector_class("sql") is SqlConnector


def test_unknown_option_names_system_entity_and_option(database: sa.Engine) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make_connector(database, chnaged="changed_at")
    message = str(raised.value)
    assert "erp" in message and "'contact'" in message and "'chnaged'" in message


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'user'"):
        SqlConnector("erp", {"url": "sqlite://", "user": "x"}, {})


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"table": "kunden", "id": "id"}, "table 'kunden' not found"),
        ({"table": "contact", "id": "kundennr"}, "no column 'kundennr' (option 'id')"),
        ({"table": "contact", "id": "id", "changed": "geaendert"}, "no column 'geaendert' (option 'changed')"),
        ({"table": "contact", "id": "id", "deleted": "geloescht"}, "no column 'geloescht' (option 'deleted')"),
        ({"table": "contact", "id": "id", "correlation": "gid"}, "no column 'gid' (option 'correlation')"),
        ({"table": "contact", "id": "id", "archive": {"column": "x", "value": 0}}, "(option 'archive')"),
        (
            {"table": "contact", "id": "id", "changed": "name", "changed_kind": "row_version", "set_changed": False},
            "not numeric",
        ),
    ],
)
def test_names_are_checked_against_the_reflected_table(
    database: sa.Engine, options: dict[str, Any], complaint: str
) -> None:
    connector = SqlConnector("erp", {"url": str(database.url)}, {"contact": options})
    with pytest.raises(ConfigurationError) as raised:
        connector.check()
    assert complaint in str(raised.value) and str(raised.value).startswith("erp: ")


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"id": "id"}, "'table' is required"),
        ({"table": "contact"}, "'id' is required"),
        (
            {"table": "contact", "id": "id", "changed": "v", "changed_kind": "row_version", "set_changed": True},
            "row version",
        ),
        ({"table": "contact", "id": "id", "changed_kind": "timestamp"}, "needs option 'changed'"),
        ({"table": "contact", "id": "id", "changed": "v", "changed_kind": "etag"}, "timestamp or row_version"),
        ({"table": "contact", "id": "id", "page_size": 0}, "positive integer"),
        ({"table": "contact", "id": "id", "overlap_seconds": -1}, ">= 0"),
        ({"table": "contact", "id": "id", "archive": {"column": "aktiv"}}, "archive"),
    ],
)
def test_option_values_are_validated(options: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        SqlConnector("erp", {"url": "sqlite://"}, {"contact": options})


def test_columns_used_in_writes_and_find_are_checked(database: sa.Engine) -> None:
    connector = make_connector(database)
    with pytest.raises(ConfigurationError, match="no column 'strasse'"):
        connector.create("contact", [{"name": "A", "strasse": "Hauptstr. 1"}])
    created = connector.create("contact", [{"name": "A"}])[0]
    with pytest.raises(ConfigurationError, match="no column 'strasse'"):
        connector.update("contact", created.native_id, {"strasse": "x"}, created.version)
    with pytest.raises(ConfigurationError, match="no column 'plz'"):
        connector.find("contact", {"plz": "50667"})


def test_plain_urls_get_the_supported_drivers_and_passwords_stay_hidden() -> None:
    postgres = SqlConnector("erp", {"url": "postgresql://erp_reader@db/erp", "password": "s3cret"}, {})
    assert postgres.url.drivername == "postgresql+psycopg"
    assert postgres.url.password == "s3cret"
    assert "s3cret" not in postgres.safe_url
    mysql = SqlConnector("crm", {"url": "mysql://crm@db/crm"}, {})
    assert mysql.url.drivername == "mysql+pymysql"
    assert mysql.url.query["charset"] == "utf8mb4"
    with pytest.raises(ConfigurationError, match="unsupported database 'oracle'"):
        SqlConnector("x", {"url": "oracle://u:pw@h/db"}, {})


def test_unreachable_server_is_unavailable_and_the_message_hides_the_password() -> None:
    connector = SqlConnector(
        "erp",
        {"url": "postgresql://erp:topsecret@127.0.0.1:1/erp?connect_timeout=2"},
        {"contact": {"table": "contact", "id": "id"}},
    )
    with pytest.raises(SystemUnavailable) as raised:
        connector.check()
    assert raised.value.transient
    assert str(raised.value).startswith("erp: ") and "topsecret" not in str(raised.value)


def test_check_names_the_database_and_counts_tables(database: sa.Engine) -> None:
    assert make_connector(database).check().startswith("SQLite 3.")
    assert make_connector(database).check().endswith(", 1 table ok")


def test_capabilities_follow_the_options(database: sa.Engine) -> None:
    connector = make_connector(
        database,
        deleted="aktiv",
        deleted_value=False,
        correlation="golden_id",
        archive={"column": "aktiv", "value": False},
        page_size=250,
    )
    caps = connector.capabilities("contact")
    assert caps.change_detection is ChangeDetection.TIMESTAMP
    assert caps.reports_deletions and caps.conditional_writes
    assert caps.correlation_field == "golden_id" and caps.batch_size == 250
    archive = connector.entity_config("contact").archive
    assert archive is not None and (archive.column, archive.value) == ("aktiv", False)
    snapshot = SqlConnector("erp", {"url": str(database.url)}, {"contact": {"table": "contact", "id": "id"}})
    assert snapshot.capabilities("contact").change_detection is ChangeDetection.SNAPSHOT
    assert snapshot.capabilities("contact").reports_deletions


# --- change cursors -----------------------------------------------------------------------


def test_rows_sharing_a_timestamp_across_page_boundaries_are_all_read(database: sa.Engine) -> None:
    stamp = datetime(2024, 5, 1, 10, 0, 0)
    ids = {str(insert_raw(database, name=f"Same {n}", changed_at=stamp)) for n in range(7)}
    connector = make_connector(database, page_size=2)
    changes = drain_changes(connector, "contact", None, MemorySnapshotStore())
    assert set(changes.records) == ids
    assert len(changes.page_cursors) == 4


def test_a_late_commit_within_the_overlap_is_read_and_one_beyond_it_is_not(database: sa.Engine) -> None:
    now = datetime(2024, 5, 1, 10, 0, 0)
    insert_raw(database, name="Seen", changed_at=now)
    connector = make_connector(database, overlap_seconds=2)
    cursor = drain_changes(connector, "contact", None, MemorySnapshotStore()).cursor
    # Transactions that took their time stamp before the cursor's row but committed after it:
    within = insert_raw(database, name="Late, within overlap", changed_at=now - timedelta(seconds=1.5))
    beyond = insert_raw(database, name="Late, beyond overlap", changed_at=now - timedelta(seconds=5))
    later = drain_changes(connector, "contact", cursor, MemorySnapshotStore())
    assert str(within) in later.records
    assert str(beyond) not in later.records  # the documented limit: overlap must cover commit delays


def test_rows_sharing_the_cursor_value_are_read_again_even_without_overlap(database: sa.Engine) -> None:
    now = datetime(2024, 5, 1, 10, 0, 0)
    insert_raw(database, name="First", changed_at=now)
    connector = make_connector(database, overlap_seconds=0)
    cursor = drain_changes(connector, "contact", None, MemorySnapshotStore()).cursor
    same = insert_raw(database, name="Same instant, committed later", changed_at=now)
    assert str(same) in drain_changes(connector, "contact", cursor, MemorySnapshotStore()).records


def test_rows_never_stamped_are_part_of_the_first_read(database: sa.Engine) -> None:
    unstamped = insert_raw(database, name="Legacy row", changed_at=None)
    stamped = insert_raw(database, name="Modern row", changed_at=datetime(2024, 1, 1))
    connector = make_connector(database, page_size=1)
    first = drain_changes(connector, "contact", None, MemorySnapshotStore())
    assert set(first.records) == {str(unstamped), str(stamped)}
    assert first.records[str(unstamped)].version == row_hash(first.records[str(unstamped)].fields)
    # An unstamped row still gets a conditional write, on its content.
    with pytest.raises(StaleVersion):
        connector.update("contact", str(unstamped), {"city": "x"}, "not-the-hash")


def test_current_cursor_is_the_latest_change(database: sa.Engine) -> None:
    connector = make_connector(database)
    assert connector.current_cursor("contact") is None
    insert_raw(database, name="A", changed_at=datetime(2024, 1, 1, 8))
    insert_raw(database, name="B", changed_at=datetime(2024, 1, 1, 9))
    cursor = connector.current_cursor("contact")
    assert cursor["changed"].startswith("2024-01-01 09:00:00")
    assert [page.records for page in connector.read_changes("contact", cursor)] != []


def test_snapshot_mode_reports_only_what_differs_from_the_stored_hashes(database: sa.Engine) -> None:
    first_id = insert_raw(database, name="One")
    second_id = insert_raw(database, name="Two")
    connector = SqlConnector("erp", {"url": str(database.url)}, {"contact": {"table": "contact", "id": "id"}})
    snapshots = MemorySnapshotStore()
    assert set(drain_changes(connector, "contact", None, snapshots).records) == {str(first_id), str(second_id)}
    assert drain_changes(connector, "contact", None, snapshots).records == {}
    with database.begin() as conn:
        conn.exec_driver_sql("UPDATE contact SET city = 'Kiel' WHERE id = ?", (first_id,))
        conn.exec_driver_sql("DELETE FROM contact WHERE id = ?", (second_id,))
    changes = drain_changes(connector, "contact", None, snapshots)
    assert set(changes.records) == {str(first_id)} and changes.deleted_ids == {str(second_id)}


# --- writes ----------------------------------------------------------------------------------


def test_values_are_bound_never_spliced_into_sql(database: sa.Engine) -> None:
    connector = make_connector(database)
    hostile = "Robert'); DROP TABLE contact; --"
    created = connector.create("contact", [{"name": hostile}])[0]
    assert connector.find("contact", {"name": hostile})[0].native_id == created.native_id
    connector.update("contact", created.native_id, {"city": hostile}, created.version)
    assert connector.get("contact", [created.native_id])[created.native_id].fields["city"] == hostile


def test_the_connector_stamps_its_writes_with_utc_now(database: sa.Engine) -> None:
    connector = make_connector(database)
    before = datetime.now(UTC).replace(tzinfo=None)
    created = connector.create("contact", [{"name": "Stamped"}])[0]
    updated = connector.update("contact", created.native_id, {"city": "Kiel"}, created.version)
    after = datetime.now(UTC).replace(tzinfo=None)
    assert before <= created.fields["changed_at"] <= updated.fields["changed_at"] <= after
    assert updated.version == updated.fields["changed_at"].isoformat()


def test_set_changed_false_leaves_the_column_to_the_database(database: sa.Engine) -> None:
    connector = make_connector(database, set_changed=False)
    created = connector.create("contact", [{"name": "Unstamped"}])[0]
    assert created.fields["changed_at"] is None


def test_update_without_expected_version_is_unconditional(database: sa.Engine) -> None:
    connector = make_connector(database)
    created = connector.create("contact", [{"name": "A"}])[0]
    assert connector.update("contact", created.native_id, {"name": "B"}, None).fields["name"] == "B"


def test_a_refused_batch_names_the_record_and_writes_nothing(database: sa.Engine) -> None:
    connector = make_connector(database)
    batch = [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}, {"id": 1, "name": "A again"}]
    with pytest.raises(RecordRejected) as raised:
        connector.create("contact", batch)
    assert raised.value.record_id == "1" and "UNIQUE" in str(raised.value)
    assert list(live_ids(connector, "contact")) == []


def test_records_without_a_generated_id_need_one(database: sa.Engine) -> None:
    connector = make_connector(database, generated_id=False)
    with pytest.raises(RecordRejected, match="no value for id column 'id'"):
        connector.create("contact", [{"name": "No id"}])
    assert connector.create("contact", [{"id": 41, "name": "With id"}])[0].native_id == "41"


def test_records_of_different_shapes_keep_their_order(database: sa.Engine) -> None:
    connector = make_connector(database)
    records = [{"name": "A"}, {"name": "B", "city": "Kiel"}, {"name": "C"}, {"name": "D", "email": "d@x.de"}]
    assert [r.fields["name"] for r in connector.create("contact", records)] == ["A", "B", "C", "D"]


def test_create_without_returning_falls_back_and_keeps_order(
    database: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = make_connector(database)
    connector.check()
    dialect = connector._get_engine().dialect
    monkeypatch.setattr(dialect, "insert_executemany_returning_sort_by_parameter_order", False)
    created = connector.create("contact", [{"name": f"N{n}"} for n in range(5)])
    assert [r.fields["name"] for r in created] == [f"N{n}" for n in range(5)]
    assert all(r.version for r in created)
    assert connector.get("contact", [created[0].native_id])[created[0].native_id].version == created[0].version


def test_a_batch_create_pairs_every_returned_row_with_its_record(database: sa.Engine) -> None:
    connector = make_connector(database)
    records = [{"name": f"N{n}", "city": "Kiel" if n % 2 else None, "golden_id": f"g{n}"} for n in range(2500)]
    created = connector.create("contact", records)
    assert [(r.fields["name"], r.fields["golden_id"]) for r in created] == [(f"N{n}", f"g{n}") for n in range(2500)]
    stored = connector.get("contact", [r.native_id for r in created])
    assert all(stored[r.native_id].fields["golden_id"] == r.fields["golden_id"] for r in created)
    assert all(stored[r.native_id].version == r.version for r in created)
    assert isinstance(created[0].fields["changed_at"], datetime)  # typed as a read returns it


def test_a_batch_whose_rows_come_back_changed_is_written_row_by_row(database: sa.Engine) -> None:
    """SQLite's type affinity turns the text '7' into the integer 7 in an INTEGER column: the
    returned rows cannot be paired by value, so the batch is undone and written in order."""
    with database.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE numbered (id INTEGER PRIMARY KEY, name TEXT, rank INTEGER)")
    url = database.url.render_as_string(hide_password=False)
    connector = SqlConnector("erp", {"url": url}, {"numbered": {"table": "numbered", "id": "id"}})
    created = connector.create("numbered", [{"name": "A", "rank": "7"}, {"name": "B", "rank": "7"}])
    assert [(r.fields["name"], r.fields["rank"]) for r in created] == [("A", 7), ("B", 7)]
    with database.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM numbered").scalar() == 2


def test_soft_delete_sets_the_flag_and_hides_the_row(database: sa.Engine) -> None:
    connector = make_connector(database, deleted="aktiv", deleted_value=False)
    created = connector.create("contact", [{"name": "Soft"}])[0]
    connector.delete("contact", created.native_id, created.version)
    with database.connect() as conn:
        assert conn.exec_driver_sql("SELECT aktiv FROM contact").scalar() == 0
    assert connector.get("contact", [created.native_id]) == {}
    assert connector.find("contact", {"name": "Soft"}) == []
    with pytest.raises(RecordNotFound):
        connector.delete("contact", created.native_id, None)


def test_ids_that_cannot_be_ids_are_simply_not_found(database: sa.Engine) -> None:
    connector = make_connector(database)
    assert connector.get("contact", ["not-a-number"]) == {}
    with pytest.raises(RecordNotFound):
        connector.update("contact", "not-a-number", {"name": "x"}, None)


def test_changing_the_id_column_is_refused(database: sa.Engine) -> None:
    connector = make_connector(database)
    created = connector.create("contact", [{"name": "A"}])[0]
    with pytest.raises(RecordRejected, match="cannot be changed"):
        connector.update("contact", created.native_id, {"id": 999}, created.version)


# --- hashing -----------------------------------------------------------------------------------


def test_row_hash_tells_types_apart() -> None:
    hashes = {row_hash({"v": value}) for value in (1, True, "1", 1.0, None, b"1")}
    assert len(hashes) == 6


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(),
    st.floats(allow_nan=False),
    st.datetimes(),
    st.decimals(allow_nan=False, allow_infinity=False),
)


@given(st.dictionaries(st.text(min_size=1, max_size=5), scalars, min_size=1, max_size=6))
def test_row_hash_is_stable_and_independent_of_column_order(fields: dict[str, Any]) -> None:
    reversed_fields = dict(reversed(list(fields.items())))
    assert row_hash(fields) == row_hash(reversed_fields) == row_hash(dict(fields))


def test_a_reference_as_text_is_stored_as_a_number_in_an_integer_column(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE product (id INTEGER PRIMARY KEY, sku TEXT, group_id INTEGER, changed_at TIMESTAMP)"
        )
    connector = SqlConnector(
        "crm",
        {"url": engine.url.render_as_string(hide_password=False)},
        {"product": {"table": "product", "id": "id", "changed": "changed_at"}},
    )
    created = connector.create("product", [{"sku": "A1", "group_id": "12"}, {"sku": "A2", "group_id": "7"}])
    assert [r.fields["group_id"] for r in created] == [12, 7]  # what was sent, as the column holds it
    updated = connector.update("product", created[0].native_id, {"group_id": "13"}, created[0].version)
    assert updated.fields["group_id"] == 13
    # only integer columns, only integer text: a text column keeps its digits as text
    bound = connector._entity("product")
    assert bound.typed({"sku": "12", "group_id": "-3"}) == {"sku": "12", "group_id": -3}
    assert bound.typed({"group_id": "x7"}) == {"group_id": "x7"}
    engine.dispose()

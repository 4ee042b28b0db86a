"""The state store's bulk UPDATE of a page of links on PostgreSQL reads the page's rows only.

Without table statistics (autovacuum off, or a store filled in bulk and not analyzed yet) the
planner took this statement through the links' (entity, system) index, reading every link of
the system for each row written; with statistics, through a hash of the whole table. Each
row is now found through an index on its full key (migration 0010; a nested loop, the hash and
merge joins off for that statement only). Counted with the transaction's own table statistics
(``pg_stat_xact_user_tables``), which do not depend on the machine's speed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from tests.integration.conftest import database_server_missing, scratch_database_name

from einklang.model import record_hash
from einklang.store import links
from einklang.store.state import StateStore, open_store

LINKED = 3000  # records linked in each of two systems
WRITTEN = 200  # links of one system written by one bulk statement


@pytest.fixture
def fresh_store(postgres_url: URL) -> Iterator[StateStore]:
    """A state store in a database of its own: its tables were never analyzed."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = scratch_database_name()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.DBAPIError as error:  # pragma: no cover - the session's database was made
        database_server_missing(f"cannot create a database: {error.orig}")
    store = open_store(postgres_url.set(database=name).render_as_string(hide_password=False))
    try:
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_a_page_of_links_is_written_through_its_keys_without_statistics(fresh_store: StateStore) -> None:
    seen = {"name": "Firma"}
    with fresh_store.transaction() as conn:
        golden_ids = links.insert_golden(conn, "company", [seen] * LINKED)
        for system in ("erp", "crm"):
            links.insert_links(
                conn,
                "company",
                system,
                [(gid, f"{system}{i}", "1", record_hash(seen)) for i, gid in enumerate(golden_ids)],
            )
    with fresh_store.transaction() as conn:
        never_analyzed = conn.exec_driver_sql(
            "SELECT last_analyze IS NULL AND last_autoanalyze IS NULL FROM pg_stat_user_tables WHERE relname = 'links'"
        ).scalar_one()
        written = [f"crm{i}" for i in range(0, LINKED, LINKED // WRITTEN)]
        links.save_links(conn, "company", [("crm", nid, "2", {"name": "neu"}, None) for nid in written])
        read = conn.exec_driver_sql(
            "SELECT coalesce(seq_tup_read, 0), coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
            "WHERE relname = 'links'"
        ).one()
        joins = conn.exec_driver_sql("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')")
        assert joins.one() == ("on", "on")  # the planner's settings as before, for the rest of the transaction
    assert never_analyzed, "the test needs a table without statistics"
    assert read[0] == 0, f"the whole links table was scanned: {read[0]} rows"
    assert read[1] <= 2 * len(written), f"{read[1]} links read through an index to write {len(written)}"
    with fresh_store.read() as conn:
        versions = conn.execute(
            sa.select(links.t.links.c.native_id, links.t.links.c.version).where(links.t.links.c.system == "crm")
        ).all()
    assert {nid for nid, version in versions if version == "2"} == set(written)

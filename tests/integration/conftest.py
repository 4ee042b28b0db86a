"""Shared fixtures for tests against the real database servers of this machine.

Each test session gets its own scratch database on PostgreSQL (127.0.0.1:5432, user postgres,
trust authentication) and on MariaDB (127.0.0.1:3306, root without password), dropped at the
end. Other servers can be named with EINKLANG_TEST_POSTGRES_URL / EINKLANG_TEST_MARIADB_URL
(an administrative URL; the scratch database is created next to its database).

A server that is not there makes its tests skip with the reason, except when CI=true: there the
tests fail, because CI must not turn green by skipping them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

# Test modules import the server fixtures they use by name (``from tests.integration.servers
# import tryton_server``); the fixtures those depend on are found here.
from tests.integration.servers import tryton_spare  # noqa: F401

POSTGRES_ADMIN_URL = os.environ.get(
    "EINKLANG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN_URL = os.environ.get("EINKLANG_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql")


def database_server_missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and a database server is unavailable: {reason}", pytrace=False)
    pytest.skip(f"{reason} (start it, e.g. with .ci/run, to run these tests)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scratch_database_name() -> str:
    return f"einklang_test_{uuid.uuid4().hex[:12]}"


def _scratch_database(admin_url: str, create: str, drop: str, label: str) -> Iterator[URL]:
    admin_target = make_url(admin_url)
    admin = sa.create_engine(admin_target, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    name = scratch_database_name()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(create.format(name=name))
    except sa.exc.DBAPIError as error:
        admin.dispose()
        where = admin_target.render_as_string(hide_password=True)
        database_server_missing(f"{label} at {where} is not reachable: {' '.join(str(error.orig).split())}")
        return
    try:
        yield admin_target.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(drop.format(name=name))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[URL]:
    """A scratch PostgreSQL database for this test session (dropped afterwards)."""
    yield from _scratch_database(
        POSTGRES_ADMIN_URL,
        "CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0",
        'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        "PostgreSQL",
    )


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[URL]:
    """A scratch MariaDB/MySQL database for this test session (dropped afterwards)."""
    yield from _scratch_database(
        MARIADB_ADMIN_URL,
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        "DROP DATABASE IF EXISTS `{name}`",
        "MariaDB",
    )

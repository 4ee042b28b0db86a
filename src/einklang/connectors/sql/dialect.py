"""What differs between PostgreSQL, MariaDB/MySQL and SQLite: URLs, drivers, transactions, messages."""

from __future__ import annotations

import math
import sqlite3
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

if TYPE_CHECKING:
    from einklang.connectors.sql.options import SqlSettings

_DRIVER_FOR_PLAIN_URL = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

# Marks a transaction that will write; on SQLite it must take the write lock up front so that
# the version read at its start is still the row's version when the UPDATE runs.
WRITE_OPTION = "einklang_write"


def database_url(text: str) -> URL:
    """``text`` as a URL of a supported database, with the drivers einklang ships (ValueError if not)."""
    try:
        url = make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        # The text may contain a password, so it is not repeated.
        raise ValueError("not a valid database URL") from None
    url = url.set(drivername=_DRIVER_FOR_PLAIN_URL.get(url.drivername, url.drivername))
    backend = url.get_backend_name()
    if backend not in ("postgresql", "mysql", "mariadb", "sqlite"):
        raise ValueError(
            f"unsupported database {backend!r} in {url.render_as_string(hide_password=True)} "
            "(sql supports postgresql, mysql/mariadb and sqlite)"
        )
    if backend in ("mysql", "mariadb") and "charset" not in url.query:
        # MySQL's "utf8" is three bytes wide and refuses emoji.
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def connection_url(settings: SqlSettings) -> URL:
    url = database_url(settings.url)
    if settings.password is not None:
        url = url.set(password=settings.password.get_secret_value())
    return url


def connect_timeout_args(url: URL, timeout: float) -> dict[str, Any]:
    """Driver arguments that bound the wait for a connection to ``timeout`` seconds.

    psycopg's ``connect_timeout`` covers the whole start-up (whole seconds, at least 2). PyMySQL's
    ``connect_timeout`` covers only the TCP connect; the server's greeting is read with the read
    timeout, so that is set too and lifted again once connected (:func:`limit_mysql_handshake`).
    A ``connect_timeout`` given in the URL's query wins. SQLite opens a file: nothing to bound.
    """
    backend = url.get_backend_name()
    if backend == "postgresql" and "connect_timeout" not in url.query:
        return {"connect_timeout": max(2, math.ceil(timeout))}
    if backend in ("mysql", "mariadb"):
        return {"connect_timeout": timeout, "read_timeout": timeout, "write_timeout": timeout}
    return {}


def limit_mysql_handshake(engine: Engine) -> None:
    """Lift PyMySQL's read/write timeouts once a connection is made: they were for the handshake.

    A query (a lock wait, a large page) may rightly take longer than connecting should.
    """

    @sa.event.listens_for(engine, "connect")
    def _queries_may_take_longer(dbapi_connection: Any, _record: Any) -> None:
        for attribute in ("_read_timeout", "_write_timeout"):
            if hasattr(dbapi_connection, attribute):
                setattr(dbapi_connection, attribute, None)


def take_over_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, start SQLite transactions.

    pysqlite starts a transaction only at the first write, so a read-then-write is not atomic;
    writes here begin with BEGIN IMMEDIATE, which takes the write lock before the version read.
    """

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        writes = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def server_description(conn: Connection) -> str:
    dialect = conn.dialect
    version = ".".join(str(part) for part in (dialect.server_version_info or ())[:3])
    if dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    if dialect.name == "postgresql":
        return f"PostgreSQL {'.'.join(version.split('.')[:2])}"
    if getattr(dialect, "is_mariadb", False):
        return f"MariaDB {version}"
    return f"MySQL {version}"


def error_reason(error: BaseException) -> str:
    """The driver's message without SQLAlchemy's SQL and parameter dump (it may hold personal data)."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error)
    return " ".join(text.split()) or type(error).__name__

"""Where Splink runs. The one place a Splink database API is constructed.

DuckDB in-process is the default (one machine, no server). Spark is the other engine Splink
supports for lists too large for one machine; pass a :class:`SparkBackend` to use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Backend(Protocol):
    """Builds a fresh Splink database API for one matching or training run."""

    def database_api(self) -> Any: ...


@dataclass(frozen=True)
class DuckDBBackend:
    """In-process DuckDB. ``threads`` limits parallelism on shared machines; None lets DuckDB decide."""

    database: str = ":memory:"
    threads: int | None = None
    memory_limit: str | None = None

    def database_api(self) -> Any:
        import duckdb
        from splink import DuckDBAPI

        connection = duckdb.connect(self.database)
        if self.threads is not None:
            connection.execute(f"SET threads = {int(self.threads)}")
        if self.memory_limit is not None:
            connection.execute("SET memory_limit = ?", [self.memory_limit])
        return DuckDBAPI(connection=connection)


@dataclass(frozen=True)
class SparkBackend:
    """An existing SparkSession (its configuration, cluster and checkpoint dir are the caller's)."""

    spark_session: Any

    def database_api(self) -> Any:
        from splink.backends.spark import SparkAPI

        return SparkAPI(spark_session=self.spark_session)  # type: ignore[no-untyped-call]


def default_backend() -> Backend:
    return DuckDBBackend()

"""Where Splink runs. The one place a Splink database API is constructed.

DuckDB in-process is the default (one machine, no server). Spark is the other engine Splink
supports, for lists too large for one machine. Both read the prepared records from Parquet
files and hand results back in batches, so the matcher holds neither the input nor the pairs
in Python memory; the SQL the matcher sends is plain enough to run unchanged on both.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from einklang.match._blocks import DEFAULT_CAP, sql_text

PAIRS_PER_SLICE = 20_000_000
"""Blocked pairs DuckDB holds in a slice at its default limit of 2 GB (it spills only in part)."""
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def pairs_within(memory_limit: str | None) -> int:
    """Blocked pairs per slice that fit ``memory_limit`` (``"512MB"``, ``"2GB"``): 20 million at
    2 GB, in proportion below it (at 512 MB a 100,000-row import ran out of memory with slices
    of 20 million); never more than at 2 GB, and at least 100,000. None (DuckDB's own default,
    80% of the RAM) and sizes DuckDB would refuse get the 2 GB figure."""
    match = _SIZE.match(memory_limit or "")
    if match is None:
        return PAIRS_PER_SLICE
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    size = float(number) * base ** " kmgt".index(unit.lower() or " ")
    scaled = int(PAIRS_PER_SLICE * size / (2 * 1000**3))
    return max(100_000, min(PAIRS_PER_SLICE, scaled))


class Session(Protocol):
    """One matching run on an engine: tables from Parquet, a Splink database API, SQL in batches."""

    @property
    def database_api(self) -> Any: ...

    def load_parquet(self, table: str, *paths: Path) -> None:
        """Make the Parquet files (or folders) at ``paths`` one table called ``table``."""

    def save(self, sql: str, path: Path) -> None:
        """Write the query's rows to Parquet at ``path``."""

    def duckdb_connection(self) -> Any | None:
        """The session's DuckDB connection, if it runs on DuckDB."""

    def rows(self, sql: str, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        """The query's rows, a batch at a time, in the query's order."""

    def close(self) -> None: ...


class Backend(Protocol):
    """Builds a fresh Splink database API (training) or session (matching) for one run."""

    @property
    def block_cap(self) -> int | None:
        """Records that may share a blocking key before it pairs nobody (None: no cap)."""

    @property
    def pairs_per_slice(self) -> int | None:
        """Candidate pairs scored at once; more are scored a slice of the records at a time (None: one pass)."""

    def database_api(self) -> Any: ...

    def file_connection(self, workdir: Path) -> Any:
        """A DuckDB connection, bounded and spilling to ``workdir``, for work on the prepared files."""

    def open_session(self, workdir: Path) -> Session: ...


@dataclass
class DuckDBSession:
    connection: Any
    database_api: Any

    def load_parquet(self, table: str, *paths: Path) -> None:
        self.connection.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_parquet(?)", [[str(path) for path in paths]]
        )

    def duckdb_connection(self) -> Any | None:
        return self.connection

    def save(self, sql: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection.execute(f"COPY ({sql}) TO {sql_text(path)} (FORMAT parquet)")

    def rows(self, sql: str, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        reader = self.connection.sql(sql).to_arrow_reader(batch_size)
        for batch in reader:
            yield batch.to_pylist()

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class DuckDBBackend:
    """In-process DuckDB. ``threads`` limits parallelism on shared machines; None lets DuckDB decide.

    ``memory_limit`` bounds DuckDB's own memory (default 2 GB; None: DuckDB's default of 80% of the
    RAM); beyond it DuckDB spills to the run's working folder instead of growing.
    """

    database: str = ":memory:"
    threads: int | None = None
    memory_limit: str | None = "2GB"
    block_cap: int | None = DEFAULT_CAP
    pairs_per_slice: int | None = PAIRS_PER_SLICE
    """DuckDB holds a slice's blocked pairs in its memory (spilling only in part): 20 million stay
    within the default 2 GB limit."""

    def _connect(self, workdir: Path | None = None) -> Any:
        import duckdb

        connection = duckdb.connect(self.database)
        # DuckDB draws a progress bar on stdout for queries of more than 2 s: in the middle of a
        # command's output, and as hundreds of lines when piped. einklang shows its own on stderr.
        connection.execute("SET enable_progress_bar = false")
        if self.threads is not None:
            connection.execute(f"SET threads = {int(self.threads)}")
        if self.memory_limit is not None:
            connection.execute("SET memory_limit = ?", [self.memory_limit])
        if workdir is not None:
            connection.execute("SET temp_directory = ?", [str(workdir / "duckdb-spill")])
            # Results come back ordered by an explicit ORDER BY; nothing else needs the order kept.
            connection.execute("SET preserve_insertion_order = false")
        return connection

    def database_api(self) -> Any:
        from splink import DuckDBAPI

        return DuckDBAPI(connection=self._connect())

    def file_connection(self, workdir: Path) -> Any:
        return self._connect(workdir)

    def open_session(self, workdir: Path) -> Session:
        from splink import DuckDBAPI

        connection = self._connect(workdir)
        return DuckDBSession(connection, DuckDBAPI(connection=connection))


@dataclass
class SparkMatchSession:
    spark: Any
    database_api: Any
    workdir: Path
    views: list[str] = field(default_factory=list)
    _results: int = 0

    def load_parquet(self, table: str, *paths: Path) -> None:
        self.spark.read.parquet(*(str(path) for path in paths)).createOrReplaceTempView(table)
        self.views.append(table)

    def duckdb_connection(self) -> Any | None:
        return None

    def save(self, sql: str, path: Path) -> None:
        self.spark.sql(sql).write.mode("overwrite").parquet(str(path))

    def rows(self, sql: str, batch_size: int) -> Iterator[list[dict[str, Any]]]:
        """The result written to Parquet by Spark, then read a batch at a time in order.

        Not ``toLocalIterator``: that holds whole sorted partitions in the driver's JVM (in local
        mode, Spark's only one), and at 1,000,000 records it ran out of a 3 GB heap after 480,000
        of 953,137 kept pairs. A sorted result is written one file per range partition, numbered
        in the sort's order (``part-00000``, ``part-00001``, ...), so reading the files by name
        reads the rows in order.
        """
        import pyarrow.parquet as pq

        self._results += 1
        folder = self.workdir / f"spark-result-{self._results}"
        self.spark.sql(sql).write.mode("overwrite").parquet(str(folder))
        try:
            for piece in sorted(folder.glob("part-*.parquet")):
                for batch in pq.ParquetFile(piece).iter_batches(batch_size=batch_size):
                    if batch.num_rows:
                        yield batch.to_pylist()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        for view in self.views:
            self.spark.catalog.dropTempView(view)


@dataclass(frozen=True)
class SparkBackend:
    """An existing SparkSession (its configuration, cluster and checkpoint dir are the caller's).

    The session needs Splink's similarity functions on its class path (``spark.jars`` set to
    ``splink.backends.spark.similarity_jar_location()``); :func:`spark_session` builds one so.
    """

    spark_session: Any
    break_lineage_method: str = "persist"
    """How Splink cuts Spark's query plans between steps: "persist" (memory, then disk) suits one
    machine; "parquet" or "checkpoint" suit a cluster with large lists."""
    block_cap: int | None = DEFAULT_CAP
    pairs_per_slice: int | None = None
    """Spark spreads and spills the blocked pairs itself; slices would only repeat its fixed cost."""
    driver_memory_limit: str = "1GB"
    """DuckDB's limit on the driver while it caps blocking keys in the prepared files."""

    def database_api(self) -> Any:
        from splink.backends.spark import SparkAPI

        return SparkAPI(  # type: ignore[no-untyped-call]
            spark_session=self.spark_session, break_lineage_method=self.break_lineage_method
        )

    def file_connection(self, workdir: Path) -> Any:
        return DuckDBBackend(threads=None, memory_limit=self.driver_memory_limit).file_connection(workdir)

    def open_session(self, workdir: Path) -> Session:
        checkpoints = workdir / "spark-checkpoints"
        checkpoints.mkdir(exist_ok=True)
        self.spark_session.sparkContext.setCheckpointDir(str(checkpoints))
        database_api = self.database_api()
        _register_dialect_aliases(self.spark_session)
        return SparkMatchSession(self.spark_session, database_api, workdir)


def _register_dialect_aliases(spark: Any) -> None:
    """The specs' SQL is written for DuckDB; sqlglot renders DuckDB's ``jaro_winkler_similarity``
    as ``JAROWINKLER_SIMILARITY`` for Spark. That name gets DuckDB's algorithm (RapidFuzz's), not
    Splink's jar's ``jaro_winkler``, which is another algorithm and gave other levels and verdicts
    at 100,000 records (:mod:`einklang.match._spark_udfs`)."""
    from einklang.match._spark_udfs import register_jaro_winkler

    register_jaro_winkler(spark, "jarowinkler_similarity")


LOCAL_DRIVER_MEMORY = "3g"
"""Heap of a ``local[N]`` Spark run, where the driver's JVM is also the only executor. Spark's
default of 1g fails at 100,000 contacts ("Java heap space" while building the broadcast hash
tables of the blocking joins); 3g was measured to suffice (bench/RESULTS_dedupe.md)."""


def spark_settings(master: str, config: Mapping[str, str]) -> dict[str, str]:
    """The Spark configuration :func:`spark_session` starts with: einklang's defaults, then ``config``.

    In local mode the driver's heap is all the memory Spark has, and it can only be set before the
    JVM starts, so it gets :data:`LOCAL_DRIVER_MEMORY` unless ``config`` names one; on a cluster
    the driver and executor memory are the cluster's (``spark-defaults.conf``, ``spark-submit``).
    """
    from splink.backends.spark import similarity_jar_location

    settings = {
        "spark.jars": similarity_jar_location(),
        # Few, larger partitions: Splink's default of 200 shuffle partitions is made for clusters.
        "spark.sql.shuffle.partitions": "8",
        "spark.default.parallelism": "8",
        "spark.ui.enabled": "false",
        # Spark's stage bars on stderr, drawn with carriage returns: noise in a piped log
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if master.startswith("local"):
        settings["spark.driver.memory"] = LOCAL_DRIVER_MEMORY
    return {**settings, **config}


def workers_python(master: str, settings: Mapping[str, str], environment: str | None) -> str | None:
    """The Python that Spark's workers run (the Jaro-Winkler UDF), or None for PySpark's default.

    ``spark.pyspark.python`` first: a SparkContext started from Python (not ``spark-submit``)
    reads the workers' Python only from ``PYSPARK_PYTHON`` and would ignore the setting, which
    ``spark-submit`` users expect to work. Then ``PYSPARK_PYTHON`` as it is. Then, in local mode,
    this interpreter, which has einklang's dependencies, rather than PySpark's default of
    whatever ``python3`` is on the PATH; a cluster's nodes keep their own default.
    """
    if "spark.pyspark.python" in settings:
        return settings["spark.pyspark.python"]
    if environment:
        return environment
    return sys.executable if master.startswith("local") else None


def spark_session(master: str = "local[2]", app_name: str = "einklang-dedupe", **config: str) -> Any:
    """A SparkSession for matching: ``master`` is ``local[N]`` or a cluster URL (``spark://host:7077``).

    ``config`` adds to or overrides :func:`spark_settings` (e.g. ``**{"spark.driver.memory": "6g"}``);
    an existing session of this process is reused as it is (Spark ignores memory settings then).
    Raises RuntimeError naming what is missing when PySpark or Java is not installed.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise RuntimeError("the Spark engine needs PySpark: pip install 'einklang[spark]'") from error

    settings = spark_settings(master, config)
    python = workers_python(master, settings, os.environ.get("PYSPARK_PYTHON"))
    if python is not None:
        os.environ["PYSPARK_PYTHON"] = python
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as error:  # Py4J raises plain Exceptions when the JVM cannot start
        raise RuntimeError(f"could not start Spark ({master}): {error}; is Java 17 installed?") from error


def default_backend() -> Backend:
    return DuckDBBackend()

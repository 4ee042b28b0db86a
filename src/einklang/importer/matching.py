"""Glue between importer records and the matcher: which spec, and records in the shape it reads."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from einklang.config_models import DedupeConfig
from einklang.match import COMPANY_SPEC, CONTACT_SPEC, SPECS, Backend, MatchModel, MatchSpec
from einklang.model import CanonicalRecord, EntitySpec, NormalizeContext, coerce, display
from einklang.normalize import InvalidValue

if TYPE_CHECKING:
    from einklang.importer.checks import DuplicateRow


def spec_for_entity(entity: str, fields: Mapping[str, Any] | tuple[str, ...]) -> MatchSpec:
    """The matcher spec of an entity: by name, else by its fields (people vs organisations)."""
    if entity in SPECS:
        return SPECS[entity]
    names = set(fields)
    if names & {"first_name", "last_name"}:
        return CONTACT_SPEC
    if "name" in names:
        return COMPANY_SPEC
    raise ValueError(f"no duplicate-detection spec fits entity {entity!r} (needs first_name/last_name or name fields)")


def match_record(record_id: str | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """A record for :func:`einklang.match.find_duplicates`: display strings plus its id (none: the
    matcher numbers the records from 0 and keeps no ids)."""
    shown = {name: display(value) for name, value in values.items() if value is not None and name != "id"}
    record = {name: value for name, value in shown.items() if value}
    if record_id is not None:
        record["id"] = record_id
    return record


def to_entity_record(
    values: Mapping[str, str], entity: EntitySpec, fields: tuple[str, ...], ctx: NormalizeContext
) -> CanonicalRecord:
    """Importer values (canonical contact field names) as the entity's typed canonical record.

    Fields the entity does not have are left out; a value its type refuses is left out too (the
    importer's validation has already reported it).
    """
    record: CanonicalRecord = {}
    for name in fields:
        raw = values.get(name)
        if raw is None or name not in entity.fields:
            continue
        try:
            record[name] = coerce(entity.field(name), raw, ctx)
        except InvalidValue:
            continue
    return record


def dedupe_backend(
    engine: str | None,
    spark_master: str | None,
    config: DedupeConfig | None = None,
    spark_config: Mapping[str, str] | None = None,
) -> Backend:
    """The engine ``einklang dedupe`` runs on: the option if given, else the config, else DuckDB.

    ``spark_config`` (``--spark-conf``) adds to and overrides the configuration's ``spark_config``.
    """
    from einklang.match import DuckDBBackend, SparkBackend, spark_session

    config = config or DedupeConfig()
    chosen = engine or config.engine
    if chosen == "duckdb":
        return DuckDBBackend(memory_limit=config.memory_limit, block_cap=config.block_cap)
    if chosen == "spark":
        settings = {**config.spark_config, **(spark_config or {})}
        return SparkBackend(spark_session(spark_master or config.spark_master, **settings), block_cap=config.block_cap)
    raise ValueError(f"unknown engine {chosen!r}: choose duckdb or spark")


def spark_settings_option(values: Sequence[str]) -> dict[str, str]:
    """``--spark-conf KEY=VALUE`` options as settings; ValueError names one without ``=``."""
    settings = {}
    for value in values:
        key, equals, setting = value.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"--spark-conf {value!r}: give KEY=VALUE, e.g. spark.executor.memory=4g")
        settings[key.strip()] = setting
    return settings


def spark_worker_failure(error: BaseException) -> str | None:
    """What to do when a Spark task failed because its Python lacks a module; None for other errors.

    Spark reports that as a ``PythonException`` carrying the worker's whole traceback; the cause
    is nearly always that the workers run another Python than the driver's (on a cluster:
    ``python3`` on each node's PATH unless told otherwise).
    """
    if type(error).__name__ != "PythonException":
        return None
    missing = re.search(r"ModuleNotFoundError: No module named '([^']+)'", str(error))
    if missing is None:
        return None
    return (
        f"Spark's Python workers cannot import {missing.group(1)}: they need a Python with "
        "RapidFuzz, pandas and PyArrow on every node. Name it with "
        "--spark-conf spark.pyspark.python=/path/to/python (or dedupe.spark_config in the "
        "configuration, or PYSPARK_PYTHON)"
    )


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet" or (path.is_dir() and any(path.glob("*.parquet")))


def parquet_records(path: Path, id_column: str | None = None) -> Iterator[dict[str, Any]]:
    """Records of a Parquet file (or folder of files) one at a time, in batches underneath.

    Columns are the canonical field names (first_name, last_name, email, email2, ...); the id is
    ``id_column``, else an ``id`` column, else the row number (from 1, as in the other readers).
    """
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(path), format="parquet")
    names = dataset.schema.names
    key = id_column or ("id" if "id" in names else None)
    if id_column is not None and id_column not in names:
        raise ValueError(f"{path}: no column {id_column!r} (columns: {', '.join(names)})")
    row_number = 0
    for batch in dataset.to_batches(batch_size=50_000):
        for row in batch.to_pylist():
            row_number += 1
            record = {name: str(value) for name, value in row.items() if value not in (None, "") and name != key}
            record["id"] = str(row[key]) if key is not None else str(row_number)
            yield record


def dedupe_parquet(
    paths: Sequence[Path],
    against: Sequence[Path] = (),
    *,
    spec: MatchSpec = CONTACT_SPEC,
    default_region: str = "DE",
    model: MatchModel | None = None,
    backend: Backend | None = None,
) -> Iterator[DuplicateRow]:
    """Pairs within Parquet files (or between them and ``against``), streamed best first.

    Neither the records nor the pairs are held in memory: the matcher reads the files batch by
    batch, and the caller writes each pair as it comes.
    """
    from einklang.importer.checks import DuplicateRow
    from einklang.match import iter_duplicates

    def tagged(group: Sequence[Path]) -> Iterator[dict[str, Any]]:
        for path in group:
            for record in parquet_records(path):
                yield {**record, "id": f"{path.name}\x00{record['id']}"}

    pairs = iter_duplicates(
        tagged(paths),
        tagged(against) if against else None,
        spec=spec,
        default_region=default_region,
        model=model,
        backend=backend,
    )
    for pair in pairs:
        a_source, a_row = str(pair.a_id).split("\x00", 1)
        b_source, b_row = str(pair.b_id).split("\x00", 1)
        yield DuplicateRow(a_source, a_row, b_source, b_row, pair.score, pair.verdict, pair.reasons)


def write_matches_streaming(
    path: Path, pairs: Iterable[DuplicateRow], keep: int = 100
) -> tuple[list[DuplicateRow], dict[str, int]]:
    """Write pairs to a CSV file as they come; the first ``keep`` pairs and the counts per verdict."""
    import csv

    from einklang.importer.checks import DEDUPE_HEADER

    shown: list[DuplicateRow] = []
    counts = {"duplicate": 0, "possible": 0}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(DEDUPE_HEADER)
        for pair in pairs:
            writer.writerow(pair.cells())
            counts[pair.verdict] = counts.get(pair.verdict, 0) + 1
            if len(shown) < keep:
                shown.append(pair)
    return shown, counts

"""Parquet input and the engine choice of ``einklang dedupe`` (DuckDB; Spark is in tests/integration)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from einklang.cli import app
from einklang.config_models import DedupeConfig
from einklang.importer.matching import dedupe_backend, dedupe_parquet, is_parquet, parquet_records
from einklang.match import DuckDBBackend

PEOPLE: list[dict[str, Any]] = [
    {"first_name": "Thomas", "last_name": "Müller", "email": "t.mueller@web.de", "city": "Berlin"},
    {"first_name": "Anna", "last_name": "Schmidt", "email": "anna@schmidt.de", "city": "Köln"},
    {"first_name": "Thomas", "last_name": "Mueller", "email": "T.Mueller@web.de", "city": "Berlin"},
]


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns = sorted({key for row in rows for key in row})
    pq.write_table(pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows]), path)
    return path


def test_records_are_read_with_their_row_number_as_id(tmp_path: Path) -> None:
    path = write(tmp_path / "people.parquet", PEOPLE)
    records = list(parquet_records(path))
    assert [record["id"] for record in records] == ["1", "2", "3"]
    assert records[1] == {
        "first_name": "Anna",
        "last_name": "Schmidt",
        "email": "anna@schmidt.de",
        "city": "Köln",
        "id": "2",
    }
    assert is_parquet(path) and not is_parquet(tmp_path / "people.csv")


def test_an_id_column_names_the_records(tmp_path: Path) -> None:
    path = write(tmp_path / "people.parquet", [{**row, "id": f"K-{n}"} for n, row in enumerate(PEOPLE)])
    assert [record["id"] for record in parquet_records(path)] == ["K-0", "K-1", "K-2"]
    with pytest.raises(ValueError, match="no column 'kundennr'"):
        list(parquet_records(path, id_column="kundennr"))


def test_dedupe_of_parquet_names_file_and_row(tmp_path: Path) -> None:
    path = write(tmp_path / "people.parquet", PEOPLE)
    [pair] = list(dedupe_parquet([path], backend=DuckDBBackend()))
    assert (pair.a_source, pair.a_row, pair.b_source, pair.b_row) == ("people.parquet", "1", "people.parquet", "3")
    assert pair.verdict == "duplicate"


def test_the_command_streams_parquet_pairs_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "people.parquet", PEOPLE)
    out = tmp_path / "pairs.csv"
    result = CliRunner().invoke(app, ["dedupe", str(path), "--engine", "duckdb", "--out", str(out)])
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert (row["a_row"], row["b_row"], row["verdict"]) == ("1", "3", "duplicate")
    assert "wrote 1 pair(s)" in result.output


def test_an_unknown_engine_is_refused_with_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path / "people.parquet", PEOPLE)
    result = CliRunner().invoke(app, ["dedupe", str(path), "--engine", "hadoop"])
    assert result.exit_code == 2
    assert "--engine is duckdb or spark" in result.output


def test_the_engine_comes_from_the_option_then_the_config() -> None:
    assert isinstance(dedupe_backend(None, None), DuckDBBackend)
    limited = dedupe_backend(None, None, DedupeConfig(engine="duckdb", memory_limit="3GB", block_cap=50))
    assert isinstance(limited, DuckDBBackend) and limited.memory_limit == "3GB" and limited.block_cap == 50
    with pytest.raises(ValueError, match="unknown engine"):
        dedupe_backend("hadoop", None)


def test_an_engine_out_of_memory_says_which_setting_to_raise() -> None:
    from einklang.match import CONTACT_SPEC, find_duplicates
    from einklang.match.matcher import EngineMemoryError

    records = [{"id": str(n), "first_name": "Anna", "last_name": f"Muster{n}", "city": "Berlin"} for n in range(300)]
    with pytest.raises(EngineMemoryError, match=r"raise dedupe\.memory_limit"):
        find_duplicates(records, spec=CONTACT_SPEC, backend=DuckDBBackend(memory_limit="1MB"))

"""The import's matching engine: its own small DuckDB limit, unless the configuration sets one."""

from __future__ import annotations

from pathlib import Path

from einklang.config import load_config
from einklang.demo import scenario
from einklang.importer.pipeline import MATCH_MEMORY_LIMIT, _backend
from einklang.match import DuckDBBackend
from einklang.match.backend import PAIRS_PER_SLICE, pairs_within


def test_the_import_uses_its_own_limit_by_default_and_the_configured_one_when_set(tmp_path: Path) -> None:
    config_path = scenario.build(tmp_path, customer_count=5)
    backend = _backend(load_config(config_path))
    assert isinstance(backend, DuckDBBackend) and backend.memory_limit == MATCH_MEMORY_LIMIT

    # what the engine's out-of-memory error advises ("raise dedupe.memory_limit") must work here too
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text + "\ndedupe:\n  memory_limit: 3GB\n  block_cap: 300\n", encoding="utf-8")
    backend = _backend(load_config(config_path))
    assert isinstance(backend, DuckDBBackend)
    assert backend.memory_limit == "3GB" and backend.block_cap == 300


def test_the_import_scores_slices_of_pairs_that_fit_its_limit_on_one_thread(tmp_path: Path) -> None:
    # At 512 MB, slices of 20 million blocked pairs (what fits DuckDB's default of 2 GB) made a
    # 100,000-row import run out of memory (bench/RESULTS_dedupe.md).
    config_path = scenario.build(tmp_path, customer_count=5)
    backend = _backend(load_config(config_path))
    assert isinstance(backend, DuckDBBackend)
    assert backend.pairs_per_slice == pairs_within(MATCH_MEMORY_LIMIT) == 5_120_000
    assert backend.threads == 1

    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text + "\ndedupe:\n  memory_limit: 1GiB\n", encoding="utf-8")
    backend = _backend(load_config(config_path))
    assert isinstance(backend, DuckDBBackend) and backend.pairs_per_slice == pairs_within("1GiB")


def test_pairs_per_slice_in_proportion_to_the_memory_limit() -> None:
    assert pairs_within("2GB") == pairs_within(None) == pairs_within("lots") == PAIRS_PER_SLICE
    assert pairs_within("512MB") == PAIRS_PER_SLICE * 512 // 2000
    assert pairs_within("1GiB") == int(PAIRS_PER_SLICE * 1024**3 / 2e9)
    assert pairs_within("16GB") == PAIRS_PER_SLICE  # never more than at 2 GB
    assert pairs_within("1MB") == 100_000

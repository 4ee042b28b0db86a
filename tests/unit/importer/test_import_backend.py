"""The import's matching engine: its own small DuckDB limit, unless the configuration sets one."""

from __future__ import annotations

from pathlib import Path

from einklang.config import load_config
from einklang.demo import scenario
from einklang.importer.pipeline import MATCH_MEMORY_LIMIT, _backend
from einklang.match import DuckDBBackend


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

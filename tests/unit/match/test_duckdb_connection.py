"""The DuckDB connections the matcher opens: bounded, and silent on stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from pathlib import Path
from einklang.match import DuckDBBackend

backend = DuckDBBackend(threads=1, memory_limit="256MB")
workdir = Path(sys.argv[1])
session = backend.open_session(workdir)
for connection in (backend.file_connection(workdir), session.duckdb_connection(), backend.database_api()._con):
    query = "SELECT value FROM duckdb_settings() WHERE name IN ('enable_progress_bar', 'threads') ORDER BY name"
    print(",".join(value for (value,) in connection.execute(query).fetchall()))
"""


def test_every_connection_draws_no_progress_bar_and_keeps_its_limits(tmp_path: Path) -> None:
    # DuckDB's own bar went to stdout in the middle of `einklang import`'s output (hundreds of
    # lines when piped) for every query of more than 2 seconds. DuckDB leaves it off under
    # pytest, so the connections are looked at from a plain interpreter.
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, check=True, timeout=120
    )
    assert probe.stdout.split() == ["false,1"] * 3

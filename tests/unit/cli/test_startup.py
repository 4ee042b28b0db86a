"""The command line starts fast: heavy libraries load only inside the commands that need them.

Guarded structurally (which modules a start-up imports), not by timing; bench/cli_startup.py
measures the time.
"""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from einklang.cli import app

HEAVY = ("splink", "pandas", "duckdb", "numpy", "sqlalchemy", "alembic", "pydantic", "openpyxl", "phonenumbers")


def _loaded_after(code: str) -> list[str]:
    probe = f"""
import sys
{code}
heavy = {HEAVY!r}
print("loaded:", *sorted({{name.split(".")[0] for name in sys.modules}} & set(heavy)), file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("loaded:"), result.stderr
    return last.split()[1:]


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded_after("import einklang.cli") == []


def _run_cli(args: list[str]) -> str:
    return f"""
from einklang.cli import app
try:
    app({args!r})
except SystemExit:
    pass
"""


def test_help_and_version_load_no_heavy_library() -> None:
    for args in (["--help"], ["--version"]):
        assert _loaded_after(_run_cli(args)) == [], args


def test_command_help_loads_no_heavy_library() -> None:
    for args in (["sync", "--help"], ["import", "--help"], ["status", "--help"], ["demo", "--help"]):
        # Typer itself may use pydantic to convert some option types
        assert [name for name in _loaded_after(_run_cli(args)) if name != "pydantic"] == [], args


def test_the_match_package_loads_splink_only_when_matching() -> None:
    assert not {"splink", "pandas", "duckdb"} & set(_loaded_after("import einklang.match; einklang.match.SPECS"))
    assert {"splink", "pandas"} <= set(_loaded_after("from einklang.match import find_duplicates"))


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"einklang {version('einklang')}"


def test_load_batch_default_shown_in_help_is_the_engines() -> None:
    from einklang.cli.load import DEFAULT_LOAD_BATCH
    from einklang.sync.initial_load import DEFAULT_LOAD_BATCH as ENGINE_DEFAULT

    assert DEFAULT_LOAD_BATCH == ENGINE_DEFAULT

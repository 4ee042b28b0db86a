"""Hardening 9: ``inspect`` streams a large file; memory does not grow with its rows.

Measured as the tracemalloc peak of the whole command (in-process), not by the clock.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from typer.testing import CliRunner

from einklang.cli import app
from einklang.importer.incoming import MAX_PROBLEMS, read_file

HEADER = "First Name,Last Name,Company,Business Phone,E-mail Address,Business City,Notes\r\n"


def _outlook_csv(path: Path, rows: int) -> None:
    """Outlook (English) rows; every 4th has a phone number that is not one (a problem per such row)."""
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(HEADER)
        for index in range(rows):
            phone = "abc" if index % 4 == 0 else f"030 {1000000 + index}"
            file.write(
                f"Erika{index},Muster{index % 977},Firma {index % 313} GmbH,{phone},"
                f'erika{index}@example.org,Berlin,"Notiz {index}"\r\n'
            )


def _inspect_peak(path: Path) -> tuple[int, dict[str, object]]:
    runner = CliRunner()
    tracemalloc.start()
    try:
        result = runner.invoke(app, ["inspect", str(path), "--json"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 1, result.output  # the bad phone numbers are errors
    return peak, json.loads(result.output)


def test_inspect_memory_does_not_grow_with_rows(tmp_path: Path) -> None:
    small, large, tiny = tmp_path / "small.csv", tmp_path / "large.csv", tmp_path / "tiny.csv"
    _outlook_csv(tiny, 10)
    _outlook_csv(small, 6_000)
    _outlook_csv(large, 24_000)
    _inspect_peak(tiny)  # imports and their caches (phone metadata: tens of MB) are not the file's
    small_peak, _ = _inspect_peak(small)
    large_peak, data = _inspect_peak(large)
    [report] = data["files"]  # type: ignore[misc]
    assert report["rows_read"] == report["rows_usable"] == 24_000
    assert report["errors"] == 6_000 == data["errors"]
    assert len(report["problems"]) == MAX_PROBLEMS
    assert report["problems_left_out"] == 6_000 - MAX_PROBLEMS
    # bounded: four times the rows, about the same peak (keeping rows or problems would quadruple it)
    assert large_peak < 1.5 * small_peak + 1_000_000, (small_peak, large_peak)
    assert large_peak < 8_000_000, large_peak


def test_problems_are_capped_but_counted(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    _outlook_csv(path, 4 * (MAX_PROBLEMS + 10))
    report, rows = read_file(path)
    assert len(rows) == report.rows_usable == 4 * (MAX_PROBLEMS + 10)
    assert report.errors == MAX_PROBLEMS + 10 and report.warnings == 0
    assert len(report.problems) == MAX_PROBLEMS and report.problems_left_out == 10
    assert report.problems[0].line == 2 and report.problems[0].field == "phone"
    human = CliRunner().invoke(app, ["inspect", str(path)])
    assert "... and 10 more problem(s) in" in human.output

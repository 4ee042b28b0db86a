"""``dedupe`` and ``inspect`` with one file that cannot be read among others."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from einklang.cli import app

runner = CliRunner()
OUTLOOK_EN = '"First Name","Last Name","Company","E-mail Address","Mobile Phone"\r\n'
ANNA = '"Anna","Schmidt","Adler GmbH","anna.schmidt@adler.de","0171 2345678"\r\n'


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    first, second, broken = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "broken.csv"
    first.write_text(OUTLOOK_EN + ANNA, encoding="utf-8")
    second.write_text(OUTLOOK_EN + ANNA, encoding="utf-8")
    broken.write_bytes(b"\x00\x01\x02 no header here")
    return first, broken, second


def test_dedupe_reports_the_unreadable_file_and_compares_the_rest(tmp_path: Path) -> None:
    first, broken, second = _files(tmp_path)
    result = runner.invoke(app, ["dedupe", str(first), str(broken), str(second), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["ok"] is False and data["duplicate"] == 1
    [error] = data["errors"]
    assert error.startswith(str(broken))
    text = runner.invoke(app, ["dedupe", str(first), str(broken), str(second)])
    assert text.exit_code == 1
    assert "file left out" in text.output and "1 sure" in text.output


def test_inspect_shows_records_and_warnings_apart(tmp_path: Path) -> None:
    first, broken, _second = _files(tmp_path)
    result = runner.invoke(app, ["inspect", str(first), str(broken), "--json"])
    assert result.exit_code == 1
    reports = json.loads(result.output)["files"]
    assert reports[0]["rows_read"] == 1 and reports[0]["rows_left_out"] == 0
    assert reports[1]["error"] and reports[1]["rows_read"] == 0

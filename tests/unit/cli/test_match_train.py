from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from einklang.cli import app
from einklang.match import MatchModel

FIXTURES = Path(__file__).parents[2] / "fixtures" / "contacts"
runner = CliRunner()


def test_train_from_files_then_dedupe_with_the_model(tmp_path: Path) -> None:
    files = [str(p) for p in sorted(FIXTURES.glob("outlook_*.csv"))]
    model_path = tmp_path / "model.json"
    result = runner.invoke(app, ["match", "train", *files, "--out", str(model_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["spec"] == "contact"
    assert MatchModel.load(model_path) is not None
    out = tmp_path / "pairs.csv"
    result = runner.invoke(app, ["dedupe", *files, "--model", str(model_path), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines()[0] == "a_source,a_row,b_source,b_row,score,verdict,reasons"


def test_train_needs_files_or_a_system() -> None:
    result = runner.invoke(app, ["match", "train", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["ok"] is False

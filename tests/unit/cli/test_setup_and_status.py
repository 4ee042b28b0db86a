from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from einklang.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--dir", str(directory), "--customers", "40", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    return directory


def invoke_json(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_demo_loads_everything(demo_dir: Path) -> None:
    code, status = invoke_json("status", "-c", str(demo_dir / "einklang.yaml"))
    assert code == 0
    entities = status["entities"]
    assert isinstance(entities, list)
    systems = {s["system"]: s for s in entities[0]["systems"]}
    assert systems["erp"]["linked"] >= 40  # the sync step adds a new ERP customer
    assert systems["crm"]["linked"] >= 40  # the import step may add accounts for new companies


def test_check_reports_each_system(demo_dir: Path) -> None:
    code, result = invoke_json("check", "-c", str(demo_dir / "einklang.yaml"))
    assert code == 0
    assert [c["name"] for c in result["checks"]] == ["state store", "erp", "crm"]  # type: ignore[index]


def test_check_fails_for_a_broken_system(demo_dir: Path, tmp_path: Path) -> None:
    text = (demo_dir / "einklang.yaml").read_text(encoding="utf-8").replace("table: accounts", "table: konten")
    text = text.replace("sqlite:///crm.db", f"sqlite:///{demo_dir / 'crm.db'}")
    text = text.replace("sqlite:///erp.db", f"sqlite:///{demo_dir / 'erp.db'}")
    (tmp_path / "einklang.yaml").write_text(text, encoding="utf-8")
    code, result = invoke_json("check", "-c", str(tmp_path / "einklang.yaml"))
    assert code == 1
    crm = next(c for c in result["checks"] if c["name"] == "crm")  # type: ignore[attr-defined]
    assert crm["ok"] is False
    assert "konten" in crm["detail"]


def test_dry_run_after_load_plans_nothing(demo_dir: Path) -> None:
    code, result = invoke_json(
        "load", "company", "--from", "erp", "--to", "crm", "--dry-run", "-c", str(demo_dir / "einklang.yaml")
    )
    assert code == 0
    assert result["created"] == 0 and result["plan"] == []


def test_config_error_is_json_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "einklang.yaml"
    config.write_text("systems:\n  erp:\n    connector: sql\n    password: ${NOT_SET_ANYWHERE}\n", encoding="utf-8")
    code, result = invoke_json("status", "-c", str(config))
    assert code == 2
    error = result["error"]
    assert isinstance(error, dict)
    assert error["line"] == 4 and error["key"] == "systems.erp.password"


def test_config_show_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_DB_PASSWORD", "very-secret-value")
    config = tmp_path / "einklang.yaml"
    config.write_text(
        "systems:\n  erp:\n    connector: sql\n    url: postgresql://u@h/db\n    password: ${DEMO_DB_PASSWORD}\n",
        encoding="utf-8",
    )
    for args in (["config", "show", "-c", str(config)], ["config", "show", "-c", str(config), "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert "very-secret-value" not in result.output
        assert "***" in result.output


def test_connectors_lists_sql() -> None:
    code, result = invoke_json("connectors")
    assert code == 0
    assert "sql" in [c["name"] for c in result["connectors"]]  # type: ignore[attr-defined]


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    code, result = invoke_json("status", "-c", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "config file not found" in result["error"]["message"]  # type: ignore[index]

"""What people read: records named by key, name and native ids; decisions in words; tables that
fit 80 columns; data printed literally (never read as rich markup)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from einklang.cli import app
from einklang.cli.wording import change_text, cycle_entity_text, resolution_text

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo-output")
    result = runner.invoke(app, ["demo", "--dir", str(directory), "--customers", "30"])
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        assert len(line) <= 80, line
    assert "captured" not in result.output and "echoes" not in result.output
    return directory / "einklang.yaml"


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    if "--json" not in args:
        for line in result.output.splitlines():
            assert len(line) <= 80, line
    return result.output


def test_status_names_isolated_records_and_counts_sync_runs(demo: Path) -> None:
    text = _run("status", "-c", str(demo))
    assert "last run: #" in text and " sync " in text
    assert "Elbe Software GmbH" in text  # the record whose create failed, by its name
    data = json.loads(_run("status", "-c", str(demo), "--json"))
    assert data["entities"][0]["last_run"]["kind"] == "sync"
    assert data["failed_writes"][0]["record"]["name"] == "Elbe Software GmbH"


def test_conflicts_name_the_record_and_say_the_decision_in_words(demo: Path) -> None:
    listed = _run("conflicts", "list", "--all", "-c", str(demo))
    assert re.search(r"company K\d{5} \S", listed)
    assert "(erp K" in listed and "take erp's value" in listed
    shown = _run("conflicts", "show", "1", "-c", str(demo))
    assert "decision: take erp's value" in shown and "{" not in shown
    data = json.loads(_run("conflicts", "show", "1", "-c", str(demo), "--json"))["conflict"]
    assert data["resolution"]["take"] == "erp"  # the JSON keeps the stored decision
    assert data["record"]["keys"]["customer_number"].startswith("K")


def test_log_names_records_by_customer_number_and_native_ids(demo: Path) -> None:
    text = _run("log", "--entity", "company", "--limit", "10", "-c", str(demo))
    assert re.search(r"company K\d{5} .+\(erp K\d{5}, crm \d+\)", text.replace("\n", " "))
    entries = json.loads(_run("log", "--entity", "company", "--limit", "3", "-c", str(demo), "--json"))["entries"]
    assert all(entry["record"]["ids"]["erp"].startswith("K") for entry in entries if entry["golden_id"])


def test_data_is_printed_literally_not_as_markup(demo: Path) -> None:
    state = demo.parent / "einklang.db"
    engine = sa.create_engine(f"sqlite:///{state}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit (ts, entity, op, old, new, cause) "
                "VALUES (:ts, 'company', 'update', :old, :new, :cause)"
            ),
            {
                "ts": dt.datetime(2030, 1, 1),
                "old": json.dumps({"name": "[bold]A"}),
                "new": json.dumps({"name": "[/x]"}),
                "cause": "[red]not red[/red]",
            },
        )
    engine.dispose()
    text = _run("log", "--limit", "1", "-c", str(demo))
    assert "[red]not red[/red]" in text and "name: [bold]A → [/x]" in text


def test_cycle_counts_and_decisions_read_as_words() -> None:
    text = cycle_entity_text({"captured": 3, "echoes": 5, "applied": 2, "failed": 0})
    assert text == "3 change(s) read, 5 of einklang's own writes read back and ignored, 2 update(s) written"
    assert cycle_entity_text({"captured": 0}) == "nothing changed"
    assert resolution_text({"take": "crm", "by": "cli"}, "decided") == (
        "take crm's value; decided by cli; the next `einklang sync` applies it"
    )
    assert resolution_text({"value": "x", "canonical": "X", "by": "cli"}, "resolved") == (
        'use "X" in every system; decided by cli; applied'
    )
    assert change_text({"city": "A"}, {"city": "B"}) == "city: A → B"
    assert change_text(None, {"city": "B", "name": "N"}) == "values: city B; name N"


def test_status_creates_a_missing_or_empty_state_store(tmp_path: Path) -> None:
    from einklang.demo import scenario

    config = scenario.build(tmp_path, 10)
    state = tmp_path / "einklang.db"
    for prepare in (lambda: state.unlink(missing_ok=True), lambda: state.write_bytes(b"")):
        prepare()
        data = json.loads(_run("status", "-c", str(config), "--json"))
        assert data["entities"][0]["golden_records"] == 0 and data["entities"][0]["last_run"] is None
        assert state.stat().st_size > 0


def test_demo_hints_can_be_copied(tmp_path: Path) -> None:
    from einklang.cli.demo import HINTS, next_steps

    lines = next_steps(tmp_path / "my demo")
    assert lines[0] == f"  cd '{tmp_path / 'my demo'}'"
    commands = [line.strip() for line in lines[1 : 1 + len(HINTS)]]
    program = commands[0].split(" ")[0]
    assert all(command.startswith(f"{program} ") for command in commands)
    if program != "einklang":  # not on PATH: the full path of this installation, and how to activate it
        assert Path(program).exists() and lines[-1].strip().startswith("source ")
    for hint in HINTS:  # every hint is a command of this CLI
        result = runner.invoke(app, [*hint.split(" ")[:1], "--help"])
        assert result.exit_code == 0, hint


def test_log_finds_a_record_by_its_id_in_a_system(demo: Path) -> None:
    data = json.loads(_run("log", "--entity", "company", "--limit", "5", "-c", str(demo), "--json"))
    entry = next(e for e in data["entries"] if e["record"])
    entries = json.loads(_run("log", "--record", entry["record"]["ids"]["erp"], "-c", str(demo), "--json"))["entries"]
    assert entries and {e["golden_id"] for e in entries} == {entry["golden_id"]}
    missing = runner.invoke(app, ["log", "--record", "no-such-record", "-c", str(demo)])
    assert missing.exit_code == 4

"""One writer at a time, exit codes a cron job can act on, and relink after a lost state store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.unit.connectors.test_mapped_fields import make_world
from typer.testing import CliRunner

from einklang.cli import app
from einklang.config import load_config
from einklang.store.lock import writer_lock
from einklang.store.state import store_for_config

runner = CliRunner()


def _run(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def _loaded(tmp_path: Path) -> Path:
    config = make_world(tmp_path)
    code, _ = _run("load", "company", "--from", "erp", "--to", "crm", "-c", str(config))
    assert code == 0
    return config


def test_a_writer_waits_for_no_one_and_says_who_holds_the_lock(tmp_path: Path) -> None:
    config = _loaded(tmp_path)
    store = store_for_config(load_config(config))
    with writer_lock(store, "sync --every"):
        for command in (
            ["load", "company", "--from", "erp", "--to", "crm"],
            ["sync", "--once", "--wait", "0"],
            ["relink", "company", "--from", "erp", "--to", "crm"],
        ):
            code, document = _run(*command, "-c", str(config))
            assert code == 3, command
            assert "sync --every (process" in str(document["error"]), command
        code, _ = _run("load", "company", "--from", "erp", "--to", "crm", "--dry-run", "-c", str(config))
        assert code == 0  # a dry run writes nothing: it needs no lock


def test_sync_once_exit_codes_for_cron(tmp_path: Path) -> None:
    config = _loaded(tmp_path)
    code, document = _run("sync", "--once", "-c", str(config))
    assert (code, document["exit_code"], document["ok"]) == (0, 0, True)
    # the same city changed in both systems: a conflict waits for a person
    with sqlite3.connect(tmp_path / "erp.db") as erp:
        erp.execute("UPDATE kunden SET ort = 'Kiel', geaendert_am = '2030-01-01 10:00:00' WHERE kundennr = 'K1'")
    with sqlite3.connect(tmp_path / "crm.db") as crm:
        crm.execute("UPDATE accounts SET city = 'Kassel', updated_at = '2030-01-01 10:00:00' WHERE external_id = 'K1'")
    code, document = _run("sync", "--once", "-c", str(config))
    assert (code, document["ok"]) == (6, False)
    # a system that cannot be reached: its writes wait, and cron hears of it
    (tmp_path / "crm.db").rename(tmp_path / "crm.db.away")
    (tmp_path / "crm.db").mkdir()  # a folder where the database was: SQLite cannot open it
    code, document = _run("sync", "--once", "-c", str(config))
    assert code == 5 and document["ok"] is False


def test_relink_after_a_lost_state_store(tmp_path: Path) -> None:
    config = _loaded(tmp_path)
    with sqlite3.connect(tmp_path / "crm.db") as crm:
        crm.execute("UPDATE accounts SET city = 'Kiel', updated_at = '2030-01-01 10:00:00' WHERE external_id = 'K1'")
    (tmp_path / "state.db").unlink()
    code, document = _run("sync", "--once", "-c", str(config))
    assert code == 6
    [entity] = document["entities"]  # type: ignore[misc]
    assert any("einklang relink company" in message for message in entity["held_back"])
    code, document = _run("relink", "company", "--from", "erp", "--to", "crm", "-c", str(config))
    assert (code, document["linked"], document["conflicts"], document["created"]) == (6, 3, 1, 0)
    _run("sync", "--once", "-c", str(config))
    with sqlite3.connect(tmp_path / "crm.db") as crm:
        assert crm.execute("SELECT city FROM accounts WHERE external_id = 'K1'").fetchone() == ("Kiel",)
        assert crm.execute("SELECT count(*) FROM accounts").fetchone() == (3,)


def test_partitions_are_refused_without_worker_mode(tmp_path: Path) -> None:
    config = make_world(tmp_path)
    for command in (["sync", "--every", "5", "--partitions", "2"], ["serve", "--partitions", "2"]):
        result = runner.invoke(app, [*command, "-c", str(config)])
        assert result.exit_code == 2, command
        assert "--partitions is for several sync workers: give --worker too" in result.output, command

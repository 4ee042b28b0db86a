"""A small real world for the service tests: an ERP and a CRM in SQLite, linked by an initial load."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from tests.unit.connectors.test_mapped_fields import make_world
from typer.testing import CliRunner

from einklang.cli import app
from einklang.config import LoadedConfig, load_config

runner = CliRunner()


def linked_world(directory: Path, interval: float = 3600.0, service: dict[str, Any] | None = None) -> LoadedConfig:
    """Three customers in the ERP, loaded into the CRM; ``sync.interval`` and ``service:`` as given."""
    path = make_world(directory)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["entities"]["company"]["sync"] = {"interval": interval}
    if service is not None:
        document["service"] = service
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["load", "company", "--from", "erp", "--to", "crm", "-c", str(path), "--json"])
    assert result.exit_code == 0, result.stdout
    return load_config(path)


def edit_erp_city(directory: Path, customer: str, city: str, when: str = "2030-01-01 10:00:00") -> None:
    with sqlite3.connect(directory / "erp.db") as erp:
        erp.execute("UPDATE kunden SET ort = ?, geaendert_am = ? WHERE kundennr = ?", (city, when, customer))


def edit_crm_city(directory: Path, customer: str, city: str, when: str = "2030-01-01 10:00:00") -> None:
    with sqlite3.connect(directory / "crm.db") as crm:
        crm.execute("UPDATE accounts SET city = ?, updated_at = ? WHERE external_id = ?", (city, when, customer))


def crm_city(directory: Path, customer: str) -> str | None:
    with sqlite3.connect(directory / "crm.db") as crm:
        row = crm.execute("SELECT city FROM accounts WHERE external_id = ?", (customer,)).fetchone()
    return None if row is None else str(row[0])


def wait_for(condition: Callable[[], Any], what: str, deadline: float = 60.0) -> Any:
    """Poll until ``condition`` returns something true; fail after a generous deadline (no timing asserted)."""
    until = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > until:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)

"""Mapped native fields are checked against the system's own (hardening finding 2).

The demo-like scenario: an ERP and a CRM in SQLite, a typo in one mapping (``city: orrt``).
Before the fix ``check`` and ``load --dry-run`` passed and the first ``sync`` set ``city`` to
NULL in every CRM account. Now the system is refused with an error naming the entity, the
canonical field and the missing column, with a close match, and nothing is written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from einklang.cli import app
from einklang.config import load_config
from einklang.connectors.base import (
    Capabilities,
    ChangeDetection,
    ChangePage,
    Connector,
    JsonValue,
    NativeRecord,
    SnapshotStore,
    UnknownNativeField,
    missing_fields,
)
from einklang.systems import open_connector

runner = CliRunner()

CONFIG = """\
state: sqlite:///{dir}/state.db
systems:
  erp: {{connector: sql, url: "sqlite:///{dir}/erp.db"}}
  crm: {{connector: sql, url: "sqlite:///{dir}/crm.db"}}
entities:
  company:
    keys: [customer_number]
    fields: {{customer_number: str, name: str, city: str}}
    systems:
      erp:
        table: kunden
        id: kundennr
        changed: geaendert_am
        map: {{customer_number: kundennr, name: name1, city: {erp_city}}}
      crm:
        table: accounts
        id: id
        changed: updated_at
        correlation: einklang_id
        map: {{customer_number: external_id, name: name, city: {crm_city}}}
"""


def make_world(directory: Path, erp_city: str = "ort", crm_city: str = "city", customers: int = 3) -> Path:
    with sqlite3.connect(directory / "erp.db") as erp:
        erp.execute("CREATE TABLE kunden (kundennr TEXT PRIMARY KEY, name1 TEXT, ort TEXT, geaendert_am TIMESTAMP)")
        erp.executemany(
            "INSERT INTO kunden VALUES (?, ?, ?, '2024-01-01 10:00:00')",
            [(f"K{i}", f"Firma {i}", f"Stadt {i}") for i in range(1, customers + 1)],
        )
    with sqlite3.connect(directory / "crm.db") as crm:
        crm.execute(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, external_id TEXT, name TEXT, city TEXT, "
            "updated_at TIMESTAMP, einklang_id TEXT)"
        )
    return write_config(directory, erp_city, crm_city)


def write_config(directory: Path, erp_city: str = "ort", crm_city: str = "city") -> Path:
    path = directory / "einklang.yaml"
    path.write_text(CONFIG.format(dir=directory, erp_city=erp_city, crm_city=crm_city), encoding="utf-8")
    return path


def crm_cities(directory: Path) -> dict[str, Any]:
    with sqlite3.connect(directory / "crm.db") as crm:
        return dict(crm.execute("SELECT external_id, city FROM accounts").fetchall())


def invoke(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_check_names_the_missing_column_and_a_close_match(tmp_path: Path) -> None:
    config = make_world(tmp_path, erp_city="orrt")
    code, result = invoke("check", "-c", str(config))
    assert code == 1
    erp = next(c for c in result["checks"] if c["name"] == "erp")
    assert erp["ok"] is False
    detail = erp["detail"]
    assert "'company'" in detail and "'city'" in detail and "'orrt'" in detail
    assert "did you mean 'ort'?" in detail
    crm = next(c for c in result["checks"] if c["name"] == "crm")
    assert crm["ok"] is True


def test_check_passes_with_a_correct_mapping(tmp_path: Path) -> None:
    code, result = invoke("check", "-c", str(make_world(tmp_path)))
    assert code == 0, result


def test_the_error_is_structured(tmp_path: Path) -> None:
    config = load_config(make_world(tmp_path, crm_city="citty"))
    with open_connector(config, "crm") as crm, pytest.raises(UnknownNativeField) as refused:
        crm.count("company")
    [missing] = refused.value.missing
    assert (missing.entity, missing.canonical, missing.column, missing.suggestion) == (
        "company",
        "city",
        "citty",
        "city",
    )
    assert refused.value.system == "crm"
    assert str(refused.value).startswith("crm: entity 'company': canonical field 'city' is mapped to native field")


def test_load_dry_run_refuses_a_target_whose_mapping_names_a_missing_column(tmp_path: Path) -> None:
    config = make_world(tmp_path, crm_city="citty")
    code, result = invoke("load", "company", "--from", "erp", "--to", "crm", "--dry-run", "-c", str(config))
    assert code != 0
    assert "'citty'" in result["error"]["message"] and "did you mean 'city'?" in result["error"]["message"]


def test_load_refuses_a_source_whose_mapping_names_a_missing_column_and_writes_nothing(tmp_path: Path) -> None:
    config = make_world(tmp_path, erp_city="orrt")
    code, result = invoke("load", "company", "--from", "erp", "--to", "crm", "-c", str(config))
    assert code != 0
    assert "'orrt'" in result["error"]["message"]
    assert crm_cities(tmp_path) == {}  # before the fix: three accounts with city NULL


def test_sync_refuses_the_system_and_blanks_nothing(tmp_path: Path) -> None:
    config = make_world(tmp_path)
    code, result = invoke("load", "company", "--from", "erp", "--to", "crm", "-c", str(config))
    assert code == 0, result
    assert crm_cities(tmp_path) == {"K1": "Stadt 1", "K2": "Stadt 2", "K3": "Stadt 3"}
    with sqlite3.connect(tmp_path / "erp.db") as erp:  # every ERP record changes after the load
        erp.execute("UPDATE kunden SET name1 = name1 || ' GmbH', geaendert_am = '2030-01-01 10:00:00'")
    write_config(tmp_path, erp_city="orrt")
    code, result = invoke("sync", "--once", "-c", str(config))
    assert code != 0
    message = result["error"]["message"]
    assert "erp" in message and "'orrt'" in message and "did you mean 'ort'?" in message
    assert crm_cities(tmp_path) == {"K1": "Stadt 1", "K2": "Stadt 2", "K3": "Stadt 3"}  # was: all None
    write_config(tmp_path)  # fixed: the changes flow, and the cities stay
    code, result = invoke("sync", "--once", "-c", str(config))
    assert code == 0, result
    assert crm_cities(tmp_path) == {"K1": "Stadt 1", "K2": "Stadt 2", "K3": "Stadt 3"}
    with sqlite3.connect(tmp_path / "crm.db") as crm:
        assert {name for (name,) in crm.execute("SELECT name FROM accounts")} == {
            "Firma 1 GmbH",
            "Firma 2 GmbH",
            "Firma 3 GmbH",
        }


# --- the contract itself -------------------------------------------------------------------------


class _Fields(Connector):
    """A connector with a fixed field set that counts how often it is asked for it."""

    def __init__(self, known: set[str] | None) -> None:
        super().__init__("crm", {}, {"company": {}})
        self.known = known
        self.asked = 0
        self.reads = 0

    def native_fields(self, entity: str) -> set[str] | None:
        self.asked += 1
        return self.known

    def capabilities(self, entity: str) -> Capabilities:
        return Capabilities(ChangeDetection.SNAPSHOT, False, False)

    def check(self) -> str:
        return "fine"

    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        self.reads += 1
        yield []

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        yield ChangePage()

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        return {}

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        return []

    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        raise AssertionError("must not be reached")

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        raise AssertionError("must not be reached")

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        raise AssertionError("must not be reached")


def test_every_operation_is_refused_before_it_touches_the_system() -> None:
    connector = _Fields({"name", "ort"})
    connector.expect_fields("company", [("name", "name"), ("city", "orrt")])
    with pytest.raises(UnknownNativeField):
        connector.read_all("company")
    with pytest.raises(UnknownNativeField):
        connector.create("company", [{"name": "x"}])
    with pytest.raises(UnknownNativeField):
        connector.update("company", "1", {"ort": None}, None)
    with pytest.raises(UnknownNativeField):
        connector.check()
    assert connector.reads == 0


def test_a_successful_check_is_asked_once_per_connector() -> None:
    connector = _Fields({"name", "ort"})
    connector.expect_fields("company", [("name", "name"), ("city", "ort")])
    assert connector.check() == "fine"
    list(connector.read_all("company"))
    connector.get("company", ["1"])
    assert connector.asked == 1 and connector.reads == 1


def test_a_schemaless_system_is_not_checked() -> None:
    connector = _Fields(None)
    connector.expect_fields("company", [("city", "anything")])
    list(connector.read_all("company"))
    assert connector.reads == 1


def test_suggestions() -> None:
    known = {"ort", "plz", "strasse", "Telefon"}
    found = missing_fields("company", [("city", "orrt"), ("phone", "telefon"), ("x", "zzzzzz"), ("s", "ort")], known)
    assert [(m.column, m.suggestion) for m in found] == [("orrt", "ort"), ("telefon", "Telefon"), ("zzzzzz", None)]

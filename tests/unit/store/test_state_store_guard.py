"""A state store is einklang's own: a foreign database is refused, a damaged one reported as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from einklang.cli import app
from einklang.store.state import StateStore, StateStoreError, open_store


def _erp_database(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE kunden (kundennr TEXT PRIMARY KEY, name1 TEXT)")
        conn.exec_driver_sql("INSERT INTO kunden VALUES ('K1', 'Alpha')")
    engine.dispose()
    return url


def test_a_database_with_foreign_tables_is_refused_unless_allowed(tmp_path: Path) -> None:
    url = _erp_database(tmp_path / "erp.db")
    with pytest.raises(StateStoreError, match=r"1 table\(s\) that are not einklang's \(kunden\)"):
        open_store(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # nothing was created in the ERP's database
        assert sa.inspect(conn).get_table_names() == ["kunden"]
    engine.dispose()
    store = open_store(url, allow_foreign_tables=True)
    assert "golden" in sa.inspect(store.engine).get_table_names()
    assert store.check().startswith("schema ")


def test_a_damaged_state_file_is_reported_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "einklang.db"
    path.write_bytes(b"this is not a database\n" * 200)
    store = StateStore(f"sqlite:///{path}")
    with pytest.raises(StateStoreError, match="cannot be read"):
        store.check()
    with pytest.raises(StateStoreError, match="cannot be read"):
        store.migrate()


def test_check_names_a_damaged_state_store_and_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "einklang.db").write_bytes(b"\x00garbage" * 512)
    (tmp_path / "einklang.yaml").write_text("state: sqlite:///einklang.db\nsystems: {}\nentities: {}\n")
    result = CliRunner().invoke(app, ["check", "-c", str(tmp_path / "einklang.yaml"), "--json"])
    assert result.exit_code != 0
    document = json.loads(result.stdout)
    [state] = [r for r in document["checks"] if r["kind"] == "state"]
    assert state["ok"] is False and "cannot be read" in state["detail"]


def test_a_new_state_store_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'einklang.db'}")
    with store.transaction() as conn:
        conn.exec_driver_sql("SELECT 1")
    for name in ("einklang.db", "einklang.db-wal"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name

"""A record the target refuses for good is isolated, shown in status, and blocks nothing else."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from einklang.cli import app
from einklang.config import load_config
from einklang.demo import scenario
from einklang.store.state import open_store
from einklang.sync.engine import SyncEngine
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


def test_rejected_write_is_isolated_and_shown_in_status(tmp_path: Path) -> None:
    config_path = scenario.build(tmp_path, customer_count=30)
    config = load_config(config_path)
    store = open_store(config.state_url)
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        run_initial_load(config, store, "company", erp, crm)
    erp_url, crm_url = f"sqlite:///{tmp_path / 'erp.db'}", f"sqlite:///{tmp_path / 'crm.db'}"
    # the CRM's own validation refuses one city
    _execute(
        crm_url,
        "CREATE TRIGGER no_such_city BEFORE UPDATE ON accounts WHEN NEW.city = 'Nirgendwo' "
        "BEGIN SELECT RAISE(ABORT, 'city Nirgendwo is not allowed'); END",
    )
    _execute(
        erp_url,
        "UPDATE kunden SET ort = 'Nirgendwo' WHERE kundennr = 'K10003'",
        "UPDATE kunden SET ort = 'Potsdam' WHERE kundennr = 'K10004'",
    )
    with ExitStack() as stack:
        connectors = {name: stack.enter_context(open_connector(config, name)) for name in config.model.systems}
        engine = SyncEngine(config, store, connectors)
        engine.run_cycle()
        engine.run_cycle()
    crm = sa.create_engine(crm_url)
    with crm.connect() as conn:
        cities = dict(conn.execute(sa.text("SELECT external_id, city FROM accounts")).all())
    crm.dispose()
    assert cities["K10004"] == "Potsdam"
    assert cities["K10003"] != "Nirgendwo"
    result = CliRunner().invoke(app, ["status", "-c", str(config_path), "--json"])
    assert result.exit_code == 0
    failed = json.loads(result.stdout)["failed_writes"]
    assert len(failed) == 1
    assert failed[0]["system"] == "crm" and "Nirgendwo" in failed[0]["last_error"]


def test_processed_changes_are_purged_after_the_retention(tmp_path: Path) -> None:
    import datetime as dt

    from einklang.store import schema
    from einklang.sync.engine import EngineOptions

    config_path = scenario.build(tmp_path, customer_count=20)
    config = load_config(config_path)
    store = open_store(config.state_url)
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        run_initial_load(config, store, "company", erp, crm)
    _execute(f"sqlite:///{tmp_path / 'erp.db'}", "UPDATE kunden SET ort = 'Potsdam' WHERE kundennr = 'K10003'")

    def captured() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.changes)).scalar_one())

    with ExitStack() as stack:
        connectors = {name: stack.enter_context(open_connector(config, name)) for name in config.model.systems}
        SyncEngine(config, store, connectors).run_cycle()
        assert captured() > 0  # kept for a while
        _execute(f"sqlite:///{tmp_path / 'erp.db'}", "UPDATE kunden SET ort = 'Werder' WHERE kundennr = 'K10004'")
        SyncEngine(config, store, connectors, options=EngineOptions(keep_changes=dt.timedelta(0))).run_cycle()
    assert captured() == 0

"""New records in two systems that are the same company, without shared keys: linked, not doubled."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from tests.store_reads import read

from einklang.config import load_config
from einklang.demo import scenario
from einklang.store import journal, links
from einklang.store.state import open_store
from einklang.sync.engine import SyncEngine
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector


def _execute(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def _count(url: str, statement: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = int(conn.execute(sa.text(statement)).scalar_one())
    engine.dispose()
    return value


def test_same_new_company_in_both_systems_is_linked_once(tmp_path: Path) -> None:
    config_path = scenario.build(tmp_path, customer_count=30)
    config = load_config(config_path)
    store = open_store(config.state_url)
    erp_url, crm_url = f"sqlite:///{tmp_path / 'erp.db'}", f"sqlite:///{tmp_path / 'crm.db'}"
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        run_initial_load(config, store, "company", erp, crm)
    _execute(
        erp_url,
        "INSERT INTO kunden (kundennr, name1, strasse, plz, ort, land, telefon) VALUES "
        "('K99001', 'Hafenmeister Logistik GmbH', 'Am Kai 7', '18055', 'Rostock', 'Deutschland', '0381 1234567')",
    )
    # a CRM user typed the same company in by hand: no customer number, no e-mail, other spelling
    _execute(
        crm_url,
        "INSERT INTO accounts (name, address_line, postcode, city, phone) VALUES "
        "('Hafenmeister Logistik', 'Am Kai 7', '18055', 'Rostock', '+49 381 1234567')",
    )
    with ExitStack() as stack:
        connectors = {name: stack.enter_context(open_connector(config, name)) for name in config.model.systems}
        engine = SyncEngine(config, store, connectors)
        engine.run_cycle()
        engine.run_cycle()
    assert _count(crm_url, "SELECT COUNT(*) FROM accounts WHERE city = 'Rostock' AND address_line LIKE 'Am Kai%'") == 1
    assert _count(erp_url, "SELECT COUNT(*) FROM kunden WHERE ort = 'Rostock' AND strasse LIKE 'Am Kai%'") == 1
    assert read(store, links.count_links, "erp", "company") == read(store, links.count_links, "crm", "company") == 31
    causes = [e.cause for e in read(store, journal.audit_log, entity="company", limit=50) if e.op == "link"]
    assert any(cause.startswith("fuzzy match: duplicate") for cause in causes)

"""A small einklang site for the web app's tests: the demo's ERP and CRM (SQLite), linked, with
an open conflict, an import whose duplicates wait for review, and three users.

Built once per test session (a few seconds) and copied for each test (the state store and
both systems are files in one folder; the config names them relative to it).
"""

from __future__ import annotations

import re
import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from einklang.config import LoadedConfig, load_config
from einklang.demo import scenario
from einklang.demo.import_step import _accounts, add_contact_entity, seed_crm_contacts, write_exports
from einklang.importer.pipeline import run_import
from einklang.store import conflicts
from einklang.store.state import StateStore, store_for_config
from einklang.sync.engine import SyncEngine
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector
from einklang.web import accounts

PASSWORD = "correct-horse-1"
USERS = {"anna": "admin", "sabine": "steward", "viewer": "viewer"}
CUSTOMERS = 24


@dataclass
class Site:
    directory: Path
    config_path: Path

    def loaded(self) -> LoadedConfig:
        return load_config(self.config_path)

    def store(self) -> StateStore:
        return store_for_config(self.loaded())

    def sql(self, database: str, statement: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(f"sqlite:///{self.directory / database}")
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(statement), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()


def sync_once(loaded: LoadedConfig, store: StateStore) -> Any:
    with ExitStack() as stack:
        connectors = {name: stack.enter_context(open_connector(loaded, name)) for name in loaded.model.systems}
        return SyncEngine(loaded, store, connectors).run_cycle()


def contested_customer(site: Site) -> str:
    rows = site.sql("erp.db", "SELECT kundennr FROM kunden WHERE name2 IS NULL ORDER BY kundennr")
    return str(rows[len(rows) // 2][0])


def make_conflict(site: Site, erp_city: str = "Potsdam", crm_city: str = "Cottbus") -> str:
    """The same customer's city changed differently in both systems, then one cycle: a conflict."""
    number = contested_customer(site)
    site.sql("erp.db", "UPDATE kunden SET ort = :city WHERE kundennr = :k", city=erp_city, k=number)
    site.sql("crm.db", "UPDATE accounts SET city = :city WHERE external_id = :k", city=crm_city, k=number)
    loaded = site.loaded()
    store = store_for_config(loaded)
    try:
        sync_once(loaded, store)
    finally:
        store.close()
    return number


def build_site(directory: Path) -> Site:
    config_path = scenario.build(directory, CUSTOMERS)
    add_contact_entity(config_path)
    loaded = load_config(config_path)
    store = store_for_config(loaded)
    try:
        with open_connector(loaded, "erp") as erp, open_connector(loaded, "crm") as crm:
            run_initial_load(loaded, store, "company", erp, crm)
        crm_url = f"sqlite:///{directory / 'crm.db'}"
        found = _accounts(crm_url)
        seed_crm_contacts(crm_url, found)
        exports = write_exports(directory / "exports", found)
        with open_connector(loaded, "crm") as crm:
            run_import(loaded, store, crm, exports, entity="contact", review_path=directory / "review.xlsx")
        with store.transaction() as conn:
            for name, role in USERS.items():
                accounts.add_user(conn, name, role, PASSWORD)
    finally:
        store.close()
    site = Site(directory, config_path)
    make_conflict(site)
    return site


def copy_site(template: Site, directory: Path) -> Site:
    shutil.copytree(template.directory, directory, dirs_exist_ok=True)
    return Site(directory, directory / template.config_path.name)


def open_conflicts(site: Site) -> list[Any]:
    store = site.store()
    try:
        with store.read() as conn:
            return conflicts.list_conflicts(conn, "open")
    finally:
        store.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)

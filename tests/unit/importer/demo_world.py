"""The demo's world for import tests (a fixture: import it where it is used): ERP companies loaded
employees' exported contact files."""

from __future__ import annotations

from pathlib import Path

import pytest

from einklang.config import LoadedConfig, load_config
from einklang.demo import import_step as demo_step
from einklang.demo import scenario
from einklang.store.state import StateStore, open_store
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector


def build_world(tmp_path: Path, customer_count: int) -> tuple[Path, LoadedConfig, StateStore, list[Path]]:
    """The demo's ERP loaded into its CRM, contacts seeded there, and employees' exports to import."""
    config_path = scenario.build(tmp_path, customer_count=customer_count)
    demo_step.add_contact_entity(config_path)
    config = load_config(config_path)
    store = open_store(config.state_url)
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        run_initial_load(config, store, "company", erp, crm)
    crm_url = f"sqlite:///{tmp_path / 'crm.db'}"
    accounts = demo_step._accounts(crm_url)
    demo_step.seed_crm_contacts(crm_url, accounts)
    exports = demo_step.write_exports(tmp_path / "exports", accounts)
    return config_path, config, store, exports


@pytest.fixture
def world(tmp_path: Path) -> tuple[LoadedConfig, StateStore, list[Path]]:
    _, config, store, exports = build_world(tmp_path, customer_count=40)
    return config, store, exports

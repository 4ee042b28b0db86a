"""einklang keeps a company's master data in agreement across its systems.

The public API, for use as a library (everything else is internal and may change)::

    from einklang import load_config, open_store, open_connector, SyncEngine

    config = load_config("einklang.yaml")
    store = open_store(config.state_url)
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        report = SyncEngine(config, store, {"erp": erp, "crm": crm}).run_cycle()

Names are imported on first use, so that ``import einklang`` (and the command line's start)
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # configuration
    "ConfigError": "einklang.config",
    "LoadedConfig": "einklang.config",
    "load_config": "einklang.config",
    "parse_config": "einklang.config",
    "EntityContext": "einklang.context",
    "entity_context": "einklang.context",
    # the model
    "CanonicalRecord": "einklang.model",
    "EntitySpec": "einklang.model",
    "FieldType": "einklang.model",
    # connectors
    "Capabilities": "einklang.connectors.base",
    "ChangeDetection": "einklang.connectors.base",
    "ChangePage": "einklang.connectors.base",
    "Connector": "einklang.connectors.base",
    "ConnectorError": "einklang.connectors.base",
    "NativeRecord": "einklang.connectors.base",
    "RecordNotFound": "einklang.connectors.base",
    "RecordRejected": "einklang.connectors.base",
    "StaleVersion": "einklang.connectors.base",
    "SystemUnavailable": "einklang.connectors.base",
    "open_connector": "einklang.systems",
    # state and runs
    "StateStore": "einklang.store.state",
    "open_store": "einklang.store.state",
    "CycleReport": "einklang.sync.report",
    "EngineOptions": "einklang.sync.cycle",
    "SyncEngine": "einklang.sync.engine",
    "LoadReport": "einklang.sync.initial_load",
    "run_initial_load": "einklang.sync.initial_load",
}

__all__ = [
    "CanonicalRecord",
    "Capabilities",
    "ChangeDetection",
    "ChangePage",
    "ConfigError",
    "Connector",
    "ConnectorError",
    "CycleReport",
    "EngineOptions",
    "EntityContext",
    "EntitySpec",
    "FieldType",
    "LoadReport",
    "LoadedConfig",
    "NativeRecord",
    "RecordNotFound",
    "RecordRejected",
    "StaleVersion",
    "StateStore",
    "SyncEngine",
    "SystemUnavailable",
    "__version__",
    "entity_context",
    "load_config",
    "open_connector",
    "open_store",
    "parse_config",
    "run_initial_load",
]


def _version() -> str:
    # read from the installed metadata on first use: importlib.metadata costs ~40 ms at start-up
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("einklang")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
        globals()[name] = value
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'einklang' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:
    __version__: str
    from einklang.config import ConfigError, LoadedConfig, load_config, parse_config
    from einklang.connectors.base import (
        Capabilities,
        ChangeDetection,
        ChangePage,
        Connector,
        ConnectorError,
        NativeRecord,
        RecordNotFound,
        RecordRejected,
        StaleVersion,
        SystemUnavailable,
    )
    from einklang.context import EntityContext, entity_context
    from einklang.model import CanonicalRecord, EntitySpec, FieldType
    from einklang.store.state import StateStore, open_store
    from einklang.sync.cycle import EngineOptions
    from einklang.sync.engine import SyncEngine
    from einklang.sync.initial_load import LoadReport, run_initial_load
    from einklang.sync.report import CycleReport
    from einklang.systems import open_connector

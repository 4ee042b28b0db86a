"""Building connectors from the configuration."""

from __future__ import annotations

from einklang.config import LoadedConfig, resolve_sqlite_url
from einklang.connectors.base import Connector, load_connector_class


def open_connector(config: LoadedConfig, system: str) -> Connector:
    system_config = config.system(system)
    connector_class = load_connector_class(system_config.connector)
    settings = system_config.settings()
    if isinstance(settings.get("url"), str):
        settings["url"] = resolve_sqlite_url(settings["url"], config.base_dir)
    return connector_class(system, settings, config.entities_of(system))

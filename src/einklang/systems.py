"""Building connectors from the configuration."""

from __future__ import annotations

from pathlib import Path

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector, load_connector_class


def open_connector(config: LoadedConfig, system: str) -> Connector:
    system_config = config.system(system)
    connector_class = load_connector_class(system_config.connector)
    settings = system_config.settings()
    url = settings.get("url")
    # relative SQLite paths are relative to the config file, not to the current folder
    if isinstance(url, str) and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and not relative.startswith(":memory:") and not Path(relative).is_absolute():
            settings["url"] = f"sqlite:///{(config.base_dir / relative).resolve()}"
    return connector_class(system, settings, config.entities_of(system))

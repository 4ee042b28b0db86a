"""Building connectors from the configuration."""

from __future__ import annotations

from einklang.config import LoadedConfig, resolve_sqlite_url
from einklang.connectors.base import Connector, load_connector_class


def open_connector(config: LoadedConfig, system: str) -> Connector:
    """The connector of ``system``, told which native fields each entity's mapping uses.

    Nothing connects here. Before the connector first reads or writes an entity (and in its
    ``check()``), it compares those fields with the system's own and refuses the entity with an
    ``UnknownNativeField`` error if one is missing (see ``Connector.verify_fields``).
    """
    system_config = config.system(system)
    connector_class = load_connector_class(system_config.connector)
    settings = system_config.settings()
    if isinstance(settings.get("url"), str):
        settings["url"] = resolve_sqlite_url(settings["url"], config.base_dir)
    entities = config.entities_of(system)
    connector = connector_class(system, settings, entities)
    for entity in entities:
        mapping = config.mapping(entity, system)
        connector.expect_fields(entity, [(rule.canonical, column) for rule in mapping.rules for column in rule.columns])
    return connector

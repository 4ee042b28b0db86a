"""The settings a user writes in einklang.yaml for this connector.

einklang checks them when it loads the config, so a misspelt key is reported with its file, line
and key before anything connects. Keep this module cheap to import: no clients, no I/O.
"""

from __future__ import annotations

from einklang.connectors._http import HttpSettings
from einklang.connectors.settings import ConnectorSettings, Name, PositiveInt, Secret


class RestSettings(HttpSettings):
    """System level: ``url`` and the HTTP settings every web connector shares, plus a token."""

    token: Secret | None = None  # sent as a bearer token; never printed
    page_size: PositiveInt = 100


class RestEntityOptions(ConnectorSettings):
    """Entity level: which API resource holds the entity (default: the entity name)."""

    resource: Name | None = None

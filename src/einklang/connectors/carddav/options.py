"""Settings of the carddav connector."""

from __future__ import annotations

from einklang.connectors._http import HttpSettings
from einklang.connectors.settings import ConnectorSettings, Name, PositiveInt, Secret


class CardDavSettings(HttpSettings):
    """``url`` is the address book collection; ``user`` and ``password`` for HTTP basic auth."""

    user: Name | None = None
    password: Secret | None = None


class CardDavEntityOptions(ConnectorSettings):
    addressbook: Name | None = None  # a URL or path overriding ``url`` for this entity
    page_size: PositiveInt = 100  # cards per multiget request

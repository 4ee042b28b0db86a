"""The ``carddav`` connector (see :mod:`einklang.connectors.carddav.connector`)."""

from einklang.connectors.carddav.connector import CardDavConnector
from einklang.connectors.carddav.vcard import VCard, apply_fields, card_to_fields, fields_to_card

__all__ = ["CardDavConnector", "VCard", "apply_fields", "card_to_fields", "fields_to_card"]

"""The ``bottlecrm`` connector (see :mod:`einklang.connectors.bottlecrm.connector`)."""

from einklang.connectors.bottlecrm.connector import BottleCrmConnector

__all__ = ["BottleCrmConnector"]

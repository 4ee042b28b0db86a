"""The ``tryton`` connector (see :mod:`einklang.connectors.tryton.connector`)."""

from einklang.connectors.tryton.connector import TrytonConnector
from einklang.connectors.tryton.wire import TrytonError, TrytonSession

__all__ = ["TrytonConnector", "TrytonError", "TrytonSession"]

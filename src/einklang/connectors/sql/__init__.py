"""The ``sql`` connector (see :mod:`einklang.connectors.sql.connector`)."""

from einklang.connectors.sql.connector import SqlConnector
from einklang.connectors.sql.options import SqlEntityOptions
from einklang.connectors.sql.table import row_hash

__all__ = ["SqlConnector", "SqlEntityOptions", "row_hash"]

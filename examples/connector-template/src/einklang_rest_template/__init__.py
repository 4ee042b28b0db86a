"""An einklang connector to a REST API with a change feed: a template to copy."""

from einklang_rest_template.connector import RestConnector
from einklang_rest_template.settings import RestEntityOptions, RestSettings

__all__ = ["RestConnector", "RestEntityOptions", "RestSettings"]

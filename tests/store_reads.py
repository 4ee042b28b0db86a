"""Reading the state store from a test in one line: ``read(store, links.count_links, "crm", "company")``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from einklang.store.state import StateStore

T = TypeVar("T")


def read(store: StateStore, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with store.read() as conn:
        return query(conn, *args, **kwargs)


def write(store: StateStore, action: Callable[[Connection], T]) -> T:
    with store.transaction() as conn:
        return action(conn)

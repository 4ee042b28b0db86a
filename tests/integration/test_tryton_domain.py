"""The Tryton entity option ``domain``: the entity is the model's records inside a search domain.

The company's own parties (itself, its employees) are parties too; with ``domain`` the
``company`` entity reads only the customers, in every read (all, changes, get, find).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from einklang.connectors.tryton import TrytonConnector
from einklang.testing.contract import MemorySnapshotStore, drain_changes, live_ids

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, tryton_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, tryton_server  # type: ignore[no-redef]

pytestmark = pytest.mark.integration
__all__ = ["tryton_server"]

CUSTOMERS_ONLY: list[Any] = [["categories", "not where", [["name", "=", "Mitarbeiter"]]]]


@pytest.fixture
def tryton(tryton_server: RunningServer) -> Iterator[TrytonConnector]:
    connector = TrytonConnector(
        "erp",
        {
            "url": tryton_server.url,
            "database": tryton_server.info["database"],
            "user": tryton_server.info["user"],
            "password": tryton_server.info["password"],
            "overlap_seconds": 0,
        },
        {"company": {"kind": "party", "domain": CUSTOMERS_ONLY}, "everyone": {"kind": "party"}},
    )
    yield connector
    connector.close()


def test_records_outside_the_domain_are_not_the_entity(tryton: TrytonConnector) -> None:
    model = tryton.session.model
    [staff] = model("party.category", "create", [{"name": "Mitarbeiter"}])
    [customer] = tryton.create("company", [{"name": "Kunde GmbH", "city": "Köln"}])
    [employee] = model("party.party", "create", [{"name": "Anna Berger", "categories": [["add", [staff]]]}])
    assert set(live_ids(tryton, "company")) == {customer.native_id}
    assert str(employee) in live_ids(tryton, "everyone")  # without the option: every party
    assert tryton.get("company", [str(employee), customer.native_id]).keys() == {customer.native_id}
    assert tryton.find("company", {"name": "Anna Berger"}) == []
    snapshots = MemorySnapshotStore()
    first = drain_changes(tryton, "company", None, snapshots)
    assert set(first.records) == {customer.native_id}
    model("party.party", "write", [employee], {"name": "Anna Berger-Weiß"})
    model("party.address", "create", [{"party": employee, "city": "Bonn"}])  # a child row changes too
    later = drain_changes(tryton, "company", first.cursor, snapshots)
    assert later.records == {} and later.deleted_ids == set()

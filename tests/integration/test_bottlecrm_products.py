"""BottleCRM products (the ``invoices`` app's catalogue) against a real django-crm 1.35."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from einklang.connectors.base import ChangePage, RecordRejected, StaleVersion
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.testing.contract import BackDoor, ConnectorContract, RenamedFields, live_ids

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, bottlecrm_running, bottlecrm_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, bottlecrm_running, bottlecrm_server  # type: ignore[no-redef]

pytestmark = pytest.mark.integration
__all__ = ["bottlecrm_running", "bottlecrm_server"]

# The contract's three text fields, as a product has them.
PRODUCT_ROLES = {"name": "name", "email": "sku", "city": "description"}
PATH = "/api/invoices/products/"


def make_connector(server: RunningServer, page_size: int = 3, overlap_seconds: float = 0) -> BottleCrmConnector:
    return BottleCrmConnector(
        "crm",
        {"url": server.url, "token": server.info["token"], "page_size": page_size, "overlap_seconds": overlap_seconds},
        {"product": {}},
    )


@pytest.fixture
def crm(bottlecrm_server: RunningServer) -> Iterator[BottleCrmConnector]:
    connector = make_connector(bottlecrm_server)
    yield connector
    connector.close()


def drain(connector: BottleCrmConnector, cursor: Any) -> tuple[dict[str, dict[str, Any]], list[str], Any]:
    records: dict[str, dict[str, Any]] = {}
    deleted: list[str] = []
    page = ChangePage()
    for page in connector.read_changes("product", cursor):
        records.update({record.native_id: dict(record.fields) for record in page.records})
        deleted.extend(page.deleted_ids)
        cursor = page.cursor if page.cursor is not None else cursor
    return records, deleted, cursor


def test_product_fields_round_trip(crm: BottleCrmConnector) -> None:
    [hammer] = crm.create(
        "product",
        [{"name": "Hammer", "sku": "A1", "price": Decimal("12.5"), "currency": "EUR", "category": "Werkzeuge"}],
    )
    fields = hammer.fields
    assert (fields["name"], fields["sku"], fields["currency"], fields["category"]) == (
        "Hammer",
        "A1",
        "EUR",
        "Werkzeuge",
    )
    assert Decimal(str(fields["price"])) == Decimal("12.50") and fields["is_active"] is True
    moved = crm.update("product", hammer.native_id, {"category": "Garten", "price": "13"}, hammer.version)
    assert moved.fields["category"] == "Garten" and Decimal(str(moved.fields["price"])) == 13
    assert moved.fields["sku"] == "A1"  # a partial write: the rest stays
    with pytest.raises(StaleVersion):
        crm.update("product", hammer.native_id, {"name": "Old"}, hammer.version)
    assert [r.native_id for r in crm.find("product", {"category": "Garten"})] == [hammer.native_id]
    with pytest.raises(RecordRejected, match="price"):
        crm.create("product", [{"name": "Rope", "price": "cheap"}])
    with pytest.raises(RecordRejected, match="unknown product fields: colour"):
        crm.create("product", [{"name": "Rope", "colour": "red"}])


def test_product_changes_and_deletion(crm: BottleCrmConnector) -> None:
    [keep, gone] = crm.create("product", [{"name": "Bleibt"}, {"name": "Geht"}])
    records, _, cursor = drain(crm, None)
    assert set(records) == {keep.native_id, gone.native_id}
    crm.delete("product", gone.native_id, gone.version)
    records, deleted, cursor = drain(crm, cursor)
    assert deleted == [gone.native_id]
    assert live_ids(crm, "product") == [keep.native_id]


# --- the shared connector contract ---------------------------------------------------------------


class ProductBackDoor(BackDoor):
    """Another API client of the same organisation editing products; speaks the contract's names."""

    def __init__(self, server: RunningServer) -> None:
        self.client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.info['token']}"})

    def _native(self, fields: Any) -> dict[str, Any]:
        native = {PRODUCT_ROLES[name]: value or "" for name, value in fields.items() if name in PRODUCT_ROLES}
        if "sku" in native:
            native["sku"] = native["sku"] or None  # unique per organisation: "none" is null
        return native

    def insert(self, fields: Any) -> str:
        response = self.client.post(PATH, json=self._native(fields))
        response.raise_for_status()
        return str(response.json()["product"]["id"])

    def update(self, native_id: str, fields: Any) -> None:
        self.client.put(f"{PATH}{native_id}/", json=self._native(fields)).raise_for_status()

    def delete(self, native_id: str) -> None:
        self.client.delete(f"{PATH}{native_id}/").raise_for_status()

    def read(self, native_id: str) -> dict[str, Any] | None:
        response = self.client.get(f"{PATH}{native_id}/")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        product = response.json()
        return {name: product.get(native) or None for name, native in PRODUCT_ROLES.items()}


@pytest.mark.integration
class TestBottleCrmProductContract(ConnectorContract):
    entity = "product"

    @pytest.fixture
    def connector(self, bottlecrm_server: RunningServer) -> Iterator[RenamedFields]:  # type: ignore[override]
        connector = RenamedFields(
            make_connector(bottlecrm_server, self.page_size, overlap_seconds=10), "product", PRODUCT_ROLES
        )
        yield connector
        connector.close()

    @pytest.fixture
    def backdoor(self, bottlecrm_server: RunningServer) -> BackDoor:
        return ProductBackDoor(bottlecrm_server)

    def missing_id(self) -> str:
        return "00000000-0000-4000-8000-000000000000"

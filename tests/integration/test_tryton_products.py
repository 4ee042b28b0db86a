"""The Tryton product kinds (product_group, product) against a real trytond (fresh copy per test)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from einklang.connectors.base import ChangePage, RecordRejected, StaleVersion
from einklang.connectors.tryton import TrytonConnector, TrytonSession
from einklang.testing.contract import BackDoor, ConnectorContract, RenamedFields, live_ids

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, tryton_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, tryton_server  # type: ignore[no-redef]

pytestmark = pytest.mark.integration
__all__ = ["tryton_server"]

# The contract's three text fields, as a product has them.
PRODUCT_ROLES = {"name": "name", "email": "code", "city": "description"}


def make_connector(server: RunningServer, overlap_seconds: float = 0) -> TrytonConnector:
    return TrytonConnector(
        "erp",
        {
            "url": server.url,
            "database": server.info["database"],
            "user": server.info["user"],
            "password": server.info["password"],
            "overlap_seconds": overlap_seconds,
        },
        {"product_group": {}, "product": {}},
    )


def give_admin_a_company(server: RunningServer) -> None:
    """A fresh Tryton has no company; list prices are per company, so the user needs one."""
    session = TrytonSession(
        "setup",
        {
            "url": server.url,
            "database": server.info["database"],
            "user": server.info["user"],
            "password": server.info["password"],
        },
    )
    if session.model("company.company", "search", [], 0, 1, None):
        session.close()
        return
    [euro] = session.model("currency.currency", "create", [{"name": "Euro", "code": "EUR", "symbol": "€"}])
    [party] = session.model("party.party", "create", [{"name": "Einklang Handel GmbH"}])
    [company] = session.model("company.company", "create", [{"party": party, "currency": euro}])
    [user] = session.model("res.user", "search", [["login", "=", server.info["user"]]], 0, 1, None)
    session.model("res.user", "write", [user], {"companies": [["add", [company]]], "company": company})
    session.close()


@pytest.fixture
def tryton(tryton_server: RunningServer) -> Iterator[TrytonConnector]:
    give_admin_a_company(tryton_server)
    connector = make_connector(tryton_server)
    yield connector
    connector.close()


def drain(connector: TrytonConnector, entity: str, cursor: Any) -> tuple[dict[str, dict[str, Any]], list[str], Any]:
    records: dict[str, dict[str, Any]] = {}
    deleted: list[str] = []
    page = ChangePage()
    for page in connector.read_changes(entity, cursor):
        records.update({record.native_id: dict(record.fields) for record in page.records})
        deleted.extend(page.deleted_ids)
    return records, deleted, page.cursor


def test_product_groups_hold_their_parent_as_a_native_id(tryton: TrytonConnector) -> None:
    [tools] = tryton.create("product_group", [{"name": "Werkzeuge", "code": "WZ"}])
    [hammers] = tryton.create("product_group", [{"name": "Hämmer", "parent": tools.native_id}])
    assert tools.fields == {"name": "Werkzeuge", "code": "WZ", "parent": None}
    assert hammers.fields == {"name": "Hämmer", "code": None, "parent": tools.native_id}
    assert [r.native_id for r in tryton.find("product_group", {"parent": tools.native_id})] == [hammers.native_id]
    assert [r.native_id for r in tryton.find("product_group", {"code": "WZ"})] == [tools.native_id]
    moved = tryton.update("product_group", hammers.native_id, {"parent": None}, hammers.version)
    assert moved.fields["parent"] is None and moved.version != hammers.version
    with pytest.raises(StaleVersion):
        tryton.update("product_group", hammers.native_id, {"name": "Old"}, hammers.version)
    with pytest.raises(RecordRejected, match="parent must be the id"):
        tryton.create("product_group", [{"name": "Bad", "parent": "Werkzeuge"}])
    with pytest.raises(RecordRejected, match="unknown product_group fields: colour"):
        tryton.create("product_group", [{"name": "Odd", "colour": "red"}])


def test_product_group_changes_and_deletion(tryton: TrytonConnector) -> None:
    [tools, garden] = tryton.create("product_group", [{"name": "Werkzeuge"}, {"name": "Garten"}])
    records, deleted, cursor = drain(tryton, "product_group", None)
    assert set(records) == {tools.native_id, garden.native_id} and deleted == []
    tryton.session.model("product.category", "write", [int(garden.native_id)], {"name": "Gartenbedarf"})
    records, deleted, cursor = drain(tryton, "product_group", cursor)
    assert records == {garden.native_id: {"name": "Gartenbedarf", "code": None, "parent": None}}
    # Categories have no active flag: deleting one deletes it.
    tryton.delete("product_group", tools.native_id, tools.version)
    records, deleted, cursor = drain(tryton, "product_group", cursor)
    assert deleted == [tools.native_id]
    assert live_ids(tryton, "product_group") == [garden.native_id]


def test_product_folds_template_variant_price_unit_and_category(tryton: TrytonConnector) -> None:
    [tools, garden] = tryton.create("product_group", [{"name": "Werkzeuge"}, {"name": "Garten"}])
    [hammer] = tryton.create(
        "product",
        [
            {
                "code": "A1",
                "name": "Hammer",
                "description": "500 g, Holzstiel",
                "list_price": "12.50",
                "category": tools.native_id,
            }
        ],
    )
    assert hammer.fields == {
        "code": "A1",
        "name": "Hammer",
        "description": "500 g, Holzstiel",
        "list_price": "12.50",
        "default_uom": "u",
        "category": tools.native_id,
        "categories": [tools.native_id],
    }
    template_id = int(hammer.native_id)
    moved = tryton.update(
        "product", hammer.native_id, {"category": garden.native_id, "list_price": "13"}, hammer.version
    )
    assert moved.fields["category"] == garden.native_id and Decimal(moved.fields["list_price"]) == Decimal(13)
    template = tryton.session.model("product.template", "read", [template_id], ["categories"])[0]
    assert template["categories"] == [int(garden.native_id)]  # replaced, not added
    cleared = tryton.update("product", hammer.native_id, {"category": None}, moved.version)
    assert cleared.fields["category"] is None
    with pytest.raises(RecordRejected, match="unit of measure 'furlong'"):
        tryton.create("product", [{"name": "Rope", "default_uom": "furlong"}])
    with pytest.raises(RecordRejected, match="list_price must be a decimal"):
        tryton.create("product", [{"name": "Rope", "list_price": "cheap"}])


def test_product_with_several_categories_reads_the_first(tryton: TrytonConnector) -> None:
    [tools, garden] = tryton.create("product_group", [{"name": "Werkzeuge"}, {"name": "Garten"}])
    [spade] = tryton.create("product", [{"name": "Spaten", "category": tools.native_id}])
    tryton.session.model(
        "product.template", "write", [int(spade.native_id)], {"categories": [["add", [int(garden.native_id)]]]}
    )
    fresh = tryton.get("product", [spade.native_id])[spade.native_id]
    # Tryton lists a template's categories in the category order (by name): "Garten" comes first.
    assert fresh.fields["category"] == garden.native_id
    assert fresh.version != spade.version


def test_product_categories_round_trip_as_a_set(tryton: TrytonConnector) -> None:
    tools, garden, power = tryton.create(
        "product_group", [{"name": "Werkzeuge"}, {"name": "Garten"}, {"name": "Strom"}]
    )
    [spade] = tryton.create("product", [{"name": "Spaten", "categories": [garden.native_id, tools.native_id]}])
    both = sorted([tools.native_id, garden.native_id], key=int)
    assert spade.fields["categories"] == both  # numeric id order, whatever order was written
    assert spade.fields["category"] == garden.native_id  # the first in Tryton's order, for old configs
    template_id = int(spade.native_id)
    assert sorted(tryton.session.model("product.template", "read", [template_id], ["categories"])[0]["categories"]) == [
        int(one) for one in both
    ]
    # the change is the difference: one removed, one added; the one kept stays
    moved = tryton.update("product", spade.native_id, {"categories": [power.native_id, tools.native_id]}, spade.version)
    assert moved.fields["categories"] == sorted([tools.native_id, power.native_id], key=int)
    records, _, _ = drain(tryton, "product", None)
    assert records[spade.native_id]["categories"] == moved.fields["categories"]
    with pytest.raises(StaleVersion):
        tryton.update("product", spade.native_id, {"categories": []}, spade.version)
    cleared = tryton.update("product", spade.native_id, {"categories": None}, moved.version)
    assert cleared.fields["categories"] == [] and cleared.fields["category"] is None
    with pytest.raises(RecordRejected, match="not both"):
        tryton.create("product", [{"name": "Rope", "category": tools.native_id, "categories": [tools.native_id]}])
    with pytest.raises(RecordRejected, match="categories must be a list"):
        tryton.create("product", [{"name": "Rope", "categories": tools.native_id}])


def test_product_archive_is_a_deletion_for_changes(tryton: TrytonConnector) -> None:
    [keep, gone] = tryton.create("product", [{"name": "Bleibt"}, {"name": "Geht"}])
    _, _, cursor = drain(tryton, "product", None)
    tryton.delete("product", gone.native_id, gone.version)  # archives
    records, deleted, cursor = drain(tryton, "product", cursor)
    assert deleted == [gone.native_id] and gone.native_id not in records
    assert live_ids(tryton, "product") == [keep.native_id]


# --- the shared connector contract ---------------------------------------------------------------


class ProductBackDoor(BackDoor):
    """Another Tryton user editing products; speaks the contract's names (see PRODUCT_ROLES)."""

    def __init__(self, server: RunningServer) -> None:
        self.session = TrytonSession(
            "backdoor",
            {
                "url": server.url,
                "database": server.info["database"],
                "user": server.info["user"],
                "password": server.info["password"],
            },
        )

    def _variant(self, template_id: int) -> int:
        return int(self.session.model("product.template", "read", [template_id], ["products"])[0]["products"][0])

    def insert(self, fields: Any) -> str:
        [unit] = self.session.model("product.uom", "search", [["symbol", "=", "u"]], 0, 1, None)
        values = {
            "name": fields["name"],
            "code": fields.get("email"),
            "default_uom": unit,
            "products": [["create", [{"description": fields.get("city")}]]],
        }
        return str(self.session.model("product.template", "create", [values])[0])

    def update(self, native_id: str, fields: Any) -> None:
        template_id = int(native_id)
        template = {PRODUCT_ROLES[name]: value for name, value in fields.items() if name in ("name", "email")}
        if template:
            self.session.model("product.template", "write", [template_id], template)
        if "city" in fields:  # on the variant only: the template's write_date stays as it was
            self.session.model(
                "product.product", "write", [self._variant(template_id)], {"description": fields["city"]}
            )

    def delete(self, native_id: str) -> None:
        self.session.model("product.template", "delete", [int(native_id)])

    def read(self, native_id: str) -> dict[str, Any] | None:
        if not self.session.model("product.template", "search", [["id", "=", int(native_id)]], 0, 1, None):
            return None
        template = self.session.model("product.template", "read", [int(native_id)], ["name", "code"])[0]
        variant = self.session.model("product.product", "read", [self._variant(int(native_id))], ["description"])[0]
        return {"name": template["name"], "email": template["code"] or None, "city": variant["description"] or None}


@pytest.mark.integration
class TestTrytonProductContract(ConnectorContract):
    entity = "product"

    @pytest.fixture
    def connector(self, tryton_server: RunningServer) -> Iterator[RenamedFields]:  # type: ignore[override]
        give_admin_a_company(tryton_server)
        inner = make_connector(tryton_server, overlap_seconds=10)  # the default, as in production
        connector = RenamedFields(inner, "product", PRODUCT_ROLES)
        yield connector
        connector.close()

    @pytest.fixture
    def backdoor(self, tryton_server: RunningServer) -> BackDoor:
        return ProductBackDoor(tryton_server)

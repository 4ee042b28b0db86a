"""Tryton's product ``categories`` (many-to-many) synced as a set reference (``many: true``).

A product in two categories in a real Tryton reaches a second system (the in-memory one, which
holds lists) with both groups, in whatever order; a category added in Tryton and one removed in
the other system round-trip through the sync as changes of the set.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from einklang.config import LoadedConfig, parse_config
from einklang.connectors.tryton import TrytonSession
from einklang.store.state import StateStore, open_store
from einklang.sync.engine import SyncEngine
from einklang.systems import open_connector
from einklang.testing.memory import MemorySystem, memory_system

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, tryton_server
    from tests.integration.test_tryton_products import give_admin_a_company
except ImportError:  # pragma: no cover
    from servers import RunningServer, tryton_server  # type: ignore[no-redef]
    from test_tryton_products import give_admin_a_company  # type: ignore[no-redef]

pytestmark = pytest.mark.integration
__all__ = ["tryton_server"]


def _config(server: RunningServer, state: Path, shop: str) -> LoadedConfig:
    return parse_config(
        f"""
state: sqlite:///{state}
systems:
  erp: {{connector: tryton, url: "{server.url}", database: "{server.info["database"]}",
        user: "{server.info["user"]}", password: "{server.info["password"]}"}}
  shop: {{connector: memory, store: {shop}}}
entities:
  product_group:
    keys: [name]
    fields: {{name: str}}
    systems:
      erp: {{map: {{name: name}}}}
      shop: {{changed: modified, map: {{name: name}}}}
  product:
    keys: [number]
    fields:
      number: str
      name: str
      groups: {{type: ref, entity: product_group, many: true}}
    systems:
      erp: {{map: {{number: code, name: name, groups: categories}}}}
      shop: {{changed: modified, map: {{number: sku, name: title, groups: {{column: tags, ref_value: name}}}}}}
"""
    )


class Installation:
    def __init__(self, server: RunningServer, tmp_path: Path) -> None:
        give_admin_a_company(server)
        self.shop_name = f"m2m-shop-{uuid.uuid4().hex[:8]}"
        self.config = _config(server, tmp_path / "state.db", self.shop_name)
        self.store: StateStore = open_store(self.config.state_url)
        self.tryton = TrytonSession(
            "test",
            {key: server.info[key] for key in ("database", "user", "password")} | {"url": server.url},
        )

    @property
    def shop(self) -> MemorySystem:
        return memory_system(self.shop_name)

    def sync(self) -> dict[str, Any]:
        connectors = {name: open_connector(self.config, name) for name in self.config.model.systems}
        try:
            return SyncEngine(self.config, self.store, connectors).run_cycle().as_dict()
        finally:
            for connector in connectors.values():
                connector.close()

    def category(self, name: str) -> int:
        return int(self.tryton.model("product.category", "create", [{"name": name}])[0])

    def shop_product(self, sku: str) -> tuple[str, dict[str, Any]]:
        [found] = [(nid, row) for nid, row in self.shop.records("product").items() if row.get("sku") == sku]
        return found

    def tryton_categories(self, template_id: int) -> list[int]:
        [row] = self.tryton.model("product.template", "read", [template_id], ["categories"])
        return sorted(row["categories"])


@pytest.fixture
def installation(tryton_server: RunningServer, tmp_path: Path) -> Iterator[Installation]:
    world = Installation(tryton_server, tmp_path)
    yield world
    world.tryton.close()


def test_a_product_in_two_categories_round_trips_as_a_set(installation: Installation) -> None:
    w = installation
    tools, garden, power = w.category("Werkzeuge"), w.category("Garten"), w.category("Strom")
    [unit] = w.tryton.model("product.uom", "search", [["symbol", "=", "u"]], 0, 1, None)
    [spade] = w.tryton.model(
        "product.template",
        "create",
        [{"name": "Spaten", "code": "S1", "default_uom": unit, "categories": [["add", [garden, tools]]]}],
    )
    w.sync()
    _, row = w.shop_product("S1")
    assert sorted(row["tags"]) == ["Garten", "Werkzeuge"]  # both groups, created first

    # in Tryton: one more category -> the shop has three
    w.tryton.model("product.template", "write", [spade], {"categories": [["add", [power]]]})
    w.sync()
    native_id, row = w.shop_product("S1")
    assert sorted(row["tags"]) == ["Garten", "Strom", "Werkzeuge"]

    # in the shop: the same set in another order is no change; removing one is
    w.shop.edit("product", native_id, {"tags": ["Werkzeuge", "Strom", "Garten"]}, changed="modified")
    reordered = _product(w.sync())
    assert (reordered["merged"], reordered["updates_planned"], reordered["applied"]) == (0, 0, 0)
    assert w.tryton_categories(spade) == sorted([tools, garden, power])
    w.shop.edit("product", native_id, {"tags": ["Strom", "Werkzeuge"]}, changed="modified")
    w.sync()
    assert w.tryton_categories(spade) == sorted([tools, power])
    quiet = _product(w.sync())  # Tryton's new list read back is the agreed set: nothing to do
    assert (quiet["merged"], quiet["updates_planned"], quiet["applied"]) == (0, 0, 0)
    _, row = w.shop_product("S1")
    assert sorted(row["tags"]) == ["Strom", "Werkzeuge"]


def _product(report: dict[str, Any]) -> dict[str, Any]:
    [product] = [entity for entity in report["entities"] if entity["entity"] == "product"]
    return product

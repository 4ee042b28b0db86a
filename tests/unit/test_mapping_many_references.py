"""Many-to-many references (``many: true``): the canonical set, the mapping, the config check, the merge."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.test_mapping_references import Links

from einklang.config import ConfigError, parse_config
from einklang.mapping import ReferenceNotReady
from einklang.model import record_hash, record_json, ref_set, ref_set_value
from einklang.sync.merge import SystemView, merge_record
from einklang.sync.policies import EntityPolicy
from einklang.sync.references import StoreReferences

CONFIG = """
systems:
  erp: {connector: memory}
  shop: {connector: memory}
  crm: {connector: sql, url: "sqlite:///crm.db"}
entities:
  product:
    fields:
      number: str
      groups: {type: ref, entity: product_group, many: true}
    systems:
      erp: {map: {number: code, groups: categories}}
      shop: {map: {number: sku, groups: {column: tags, ref_value: name}}}
      crm: {table: products, id: id, map: {number: sku}}
  product_group:
    fields: {name: str}
    systems:
      erp: {map: {name: name}}
"""


def _links() -> Links:
    return Links(
        natives={("product_group", "erp"): {"10": "g-10", "20": "g-20", "3": "g-03"}},
        bases={"g-10": {"name": "Werkzeuge"}, "g-20": {"name": "Garten"}, "g-03": {"name": "Elektro"}},
    )


def _config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, Path("einklang.yaml"))
    return raised.value


def test_the_canonical_value_is_the_sorted_set_of_golden_ids() -> None:
    assert ref_set_value(["g-20", "g-10", "g-20"]) == "g-10 g-20"
    assert ref_set_value([]) is None
    assert ref_set("g-20  g-10") == ("g-10", "g-20")
    assert ref_set(["g-20", "g-10"]) == ("g-10", "g-20")
    assert ref_set(None) == ()


@given(st.lists(st.sampled_from(["g-10", "g-20", "g-03", "0191-a", "0191-b"]), max_size=8), st.randoms())
def test_order_and_repeats_never_read_as_a_change(ids: list[str], random: object) -> None:
    shuffled = list(ids)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    first, second = ref_set_value(ids), ref_set_value(shuffled)
    assert first == second
    assert record_hash({"groups": first}) == record_hash({"groups": second})
    assert record_json({"groups": first}) == record_json({"groups": second})
    assert ref_set(first) == tuple(sorted(set(ids)))


@given(st.permutations(["10", "20", "3"]))
def test_a_list_of_foreign_keys_reads_as_one_set_in_any_order(natives: list[str]) -> None:
    erp = parse_config(CONFIG).mapping("product", "erp").bind(_links(), "erp")
    record, problems = erp.to_canonical({"code": "A1", "categories": natives})
    assert problems == []
    assert record == {"number": "A1", "groups": "g-03 g-10 g-20"}


def test_the_set_writes_back_as_the_native_ids_and_values() -> None:
    config = parse_config(CONFIG)
    erp = config.mapping("product", "erp").bind(_links(), "erp")
    shop = config.mapping("product", "shop").bind(_links(), "shop")
    record = {"number": "A1", "groups": "g-03 g-10 g-20"}
    assert erp.to_native(record) == {"code": "A1", "categories": ["3", "10", "20"]}
    assert erp.to_native({"groups": None}, only=["groups"]) == {"categories": None}
    assert shop.to_native(record)["tags"] == sorted(["Elektro", "Werkzeuge", "Garten"])
    read, problems = shop.to_canonical({"sku": "A1", "tags": ["Werkzeuge", "Garten"]})
    assert problems == [] and read["groups"] == "g-10 g-20"


def test_one_element_not_linked_yet_makes_the_whole_write_wait() -> None:
    erp = parse_config(CONFIG).mapping("product", "erp").bind(_links(), "erp")
    with pytest.raises(ReferenceNotReady) as waiting:
        erp.to_native({"number": "A1", "groups": "g-10 g-new"})
    assert waiting.value.golden_id == "g-new" and waiting.value.field == "groups"
    assert "is not yet linked in erp" in str(waiting.value)


def test_a_dangling_element_is_reported_and_leaves_the_field_unknown() -> None:
    erp = parse_config(CONFIG).mapping("product", "erp").bind(_links(), "erp")
    record, problems = erp.to_canonical({"code": "A1", "categories": ["10", "99"]})
    assert "groups" not in record  # never a part of the set
    assert [problem.kind for problem in problems] == ["dangling_reference"]
    assert "'99'" in problems[0].reason


def test_a_single_value_where_a_list_is_expected_is_a_problem_not_a_narrower_set() -> None:
    erp = parse_config(CONFIG).mapping("product", "erp").bind(_links(), "erp")
    record, problems = erp.to_canonical({"code": "A1", "categories": "10"})
    assert "groups" not in record
    assert "needs a list" in problems[0].reason
    record, problems = erp.to_canonical({"code": "A1", "categories": []})
    assert record["groups"] is None and problems == []


def test_mapping_a_set_to_a_single_valued_connector_is_refused_with_file_and_line() -> None:
    error = _config_error(CONFIG.replace("map: {number: sku}}", "map: {number: sku, groups: group_id}}"))
    text = str(error)
    assert "einklang.yaml:14: entities.product.systems.crm.map.groups" in text
    assert "groups is a many reference" in text and "'sql'" in text and "'crm'" in text


def _view(system: str, current: dict[str, object] | None, seen: dict[str, object]) -> SystemView:
    return SystemView(system, frozenset({"groups"}), dict(seen), current)  # type: ignore[arg-type]


def test_the_set_is_one_value_for_the_three_way_merge() -> None:
    base = {"groups": "g-10 g-20"}
    moved = merge_record(
        base, [_view("erp", {"groups": "g-03 g-10 g-20"}, base), _view("shop", None, base)], EntityPolicy()
    )
    assert moved.base["groups"] == "g-03 g-10 g-20" and moved.writes == {"shop": {"groups": "g-03 g-10 g-20"}}
    differently = merge_record(
        base,
        [_view("erp", {"groups": "g-03 g-10 g-20"}, base), _view("shop", {"groups": "g-10"}, base)],
        EntityPolicy(),
    )
    assert [conflict.field for conflict in differently.conflicts] == ["groups"]
    assert differently.base["groups"] == "g-10 g-20"


def test_a_conflict_on_the_set_names_each_referenced_record() -> None:
    references = StoreReferences(None)
    references._bases.update({"g-10": {"name": "Werkzeuge"}, "g-20": {"name": "Garten"}})
    assert references.label("g-10 g-20") == "{'Werkzeuge' (g-10), 'Garten' (g-20)}"
    assert references.label("g-10") == "'Werkzeuge' (g-10)"

"""Reference fields: the config's ``ref`` type and its checks, and the mapping in both directions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from einklang.config import ConfigError, parse_config
from einklang.mapping import ReferenceNotReady
from einklang.model import CanonicalValue

BASE = """
systems:
  erp: {connector: memory}
  crm: {connector: memory}
entities:
  product:
    fields:
      number: str
      group: {type: ref, entity: product_group}
    systems:
      erp: {map: {number: artnr, group: warengruppe}}
      crm: {map: {number: sku, group: {column: category, ref_value: name}}}
  product_group:
    fields: {number: str, name: str}
    systems:
      erp: {map: {number: nr, name: bezeichnung}}
"""


@dataclass
class Links:
    """A resolver over plain dicts: (entity, system) -> native id -> golden id, and golden bases."""

    natives: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    bases: dict[str, dict[str, CanonicalValue]] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)

    def golden_for_native(self, entity: str, system: str, native_id: str) -> str | None:
        return self.natives.get((entity, system), {}).get(native_id)

    def native_for_golden(self, entity: str, system: str, golden_id: str) -> str | None:
        reverse = {g: n for n, g in self.natives.get((entity, system), {}).items()}
        return reverse.get(golden_id)

    def golden_for_value(self, entity: str, field: str, value: CanonicalValue) -> str | None:
        found = [g for g, base in self.bases.items() if base.get(field) == value]
        return found[0] if len(found) == 1 else None

    def value_for_golden(self, entity: str, field: str, golden_id: str) -> CanonicalValue:
        return self.bases.get(golden_id, {}).get(field)

    def removed(self, golden_id: str) -> str | None:
        return self.gone.get(golden_id)


def _links() -> Links:
    return Links(
        natives={("product_group", "erp"): {"10": "g-10", "20": "g-20"}},
        bases={"g-10": {"name": "Werkzeuge"}, "g-20": {"name": "Garten"}},
    )


def test_foreign_key_reads_as_golden_id_and_writes_back_as_native_id() -> None:
    config = parse_config(BASE)
    erp = config.mapping("product", "erp").bind(_links(), "erp")
    record, problems = erp.to_canonical({"artnr": "A1", "warengruppe": 10})  # an integer column
    assert record == {"number": "A1", "group": "g-10"} and problems == []
    assert erp.to_native({"number": "A1", "group": "g-20"}) == {"artnr": "A1", "warengruppe": "20"}
    assert erp.to_native({"group": "g-20"}, only=["group"]) == {"warengruppe": "20"}
    assert erp.to_native({"number": "A1", "group": None}) == {"artnr": "A1", "warengruppe": None}


def test_value_reference_reads_the_referenced_records_field() -> None:
    config = parse_config(BASE)
    crm = config.mapping("product", "crm").bind(_links(), "crm")
    assert crm.to_canonical({"sku": "A1", "category": " Garten "})[0] == {"number": "A1", "group": "g-20"}
    assert crm.to_native({"number": "A1", "group": "g-10"}) == {"sku": "A1", "category": "Werkzeuge"}


@given(st.sampled_from(["g-10", "g-20", None]))
def test_both_directions_round_trip(golden: str | None) -> None:
    config = parse_config(BASE)
    for system in ("erp", "crm"):
        mapping = config.mapping("product", system).bind(_links(), system)
        native = mapping.to_native({"number": "A1", "group": golden})
        assert mapping.to_canonical(native)[0] == {"number": "A1", "group": golden}


def test_a_reference_that_points_nowhere_is_a_problem_not_a_value() -> None:
    erp = parse_config(BASE).mapping("product", "erp").bind(_links(), "erp")
    record, [problem] = erp.to_canonical({"artnr": "A1", "warengruppe": "99"})
    assert record == {"number": "A1"}  # unknown, never empty
    assert (problem.field, problem.kind) == ("group", "dangling_reference")
    assert "no product_group record '99' is linked in erp" in problem.reason


def test_a_reference_not_yet_linked_in_the_target_is_not_written() -> None:
    links = _links()
    links.bases["g-30"] = {}
    links.gone["g-40"] = "deleted"
    erp = parse_config(BASE).mapping("product", "erp").bind(links, "erp")
    with pytest.raises(ReferenceNotReady) as waiting:
        erp.to_native({"number": "A1", "group": "g-30"})
    assert (waiting.value.field, waiting.value.golden_id, waiting.value.removed) == ("group", "g-30", None)
    with pytest.raises(ReferenceNotReady) as removed:
        erp.to_native({"number": "A1", "group": "g-40"})
    assert removed.value.removed == "deleted"
    crm = parse_config(BASE).mapping("product", "crm").bind(links, "crm")
    with pytest.raises(ReferenceNotReady):  # a group without a name cannot be named
        crm.to_native({"group": "g-30"})


def test_an_unbound_mapping_leaves_references_out() -> None:
    erp = parse_config(BASE).mapping("product", "erp")
    assert erp.to_canonical({"artnr": "A1", "warengruppe": "10"}) == ({"number": "A1"}, [])
    assert erp.to_native({"number": "A1", "group": "g-10"}) == {"artnr": "A1"}


def _config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, Path("einklang.yaml"))
    return raised.value


def test_ref_to_an_unknown_entity_fails_at_load_with_file_and_line() -> None:
    error = _config_error(BASE.replace("entity: product_group}", "entity: warengruppe}"))
    assert "unknown entity 'warengruppe'" in str(error)
    assert "einklang.yaml:9" in str(error)  # the line of the field


def test_ref_value_must_name_a_field_of_the_referenced_entity() -> None:
    error = _config_error(BASE.replace("ref_value: name", "ref_value: title"))
    assert "ref_value 'title' is not a field of entity 'product_group'" in str(error)
    assert "einklang.yaml:12" in str(error)


def test_a_ref_needs_its_entity_and_only_a_ref_takes_ref_value() -> None:
    assert "names the entity it refers to" in str(_config_error(BASE.replace(", entity: product_group", "")))
    error = _config_error(
        BASE.replace("group: {column: category, ref_value: name}", "number: {column: x, ref_value: name}").replace(
            "number: sku, ", ""
        )
    )
    assert "ref_value is for fields of type ref" in str(error)


def test_cycles_of_references_are_refused() -> None:
    text = BASE.replace(
        "fields: {number: str, name: str}",
        "fields: {number: str, name: str, top: {type: ref, entity: product}}",
    )
    error = _config_error(text)
    assert "references form a cycle" in str(error)
    assert "product.group -> product_group.top -> product" in str(error)


def test_many_is_only_for_refs() -> None:
    error = _config_error(BASE.replace("number: str\n      group", "number: {type: str, many: true}\n      group"))
    assert "many: is for fields of type ref" in str(error)


def test_entities_are_ordered_after_what_they_refer_to() -> None:
    model = parse_config(BASE).model
    assert model.entity_order() == ["product_group", "product"]
    assert model.entity_order(["product"]) == ["product"]

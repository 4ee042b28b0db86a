"""Found by the stateful test: a field a system never held, then read as empty, is not a wipe."""

from __future__ import annotations

from pathlib import Path

from .harness import World


def test_a_field_first_read_empty_does_not_revert_an_edit_elsewhere(tmp_path: Path) -> None:
    w = World(tmp_path, systems=["erp", "crm", "shop"])
    erp_id = w.add("erp", number="K1", name="Alpha")  # no city column at all: unknown
    w.settle()
    w.edit("erp", erp_id, city=None)  # the column appears, empty
    w.settle()
    crm_id = next(iter(w.rows("crm")))
    w.edit("crm", crm_id, city="Berlin")
    w.settle()
    assert {system: next(iter(w.rows(system).values())).get("city") for system in w.names} == {
        "erp": "Berlin",
        "crm": "Berlin",
        "shop": "Berlin",
    }

"""A record read without one of its mapped fields does not blank that field elsewhere (finding 2)."""

from __future__ import annotations

from pathlib import Path

from .harness import World


def _drop(w: World, system: str, native_id: str, column: str, **edits: str) -> None:
    """Change a record so that the connector answers without ``column`` (a partial answer)."""
    w.edit(system, native_id, **edits)
    with w.systems[system]._lock:
        del w.systems[system].entity("customer").rows[native_id].fields[column]


def test_a_partial_record_changes_what_it_holds_and_blanks_nothing(tmp_path: Path) -> None:
    w = World(tmp_path)
    erp_id = w.add("erp", number="K1", name="Alpha", city="Berlin", email="a@alpha.de")
    w.settle()
    crm_id = next(iter(w.rows("crm")))
    assert w.rows("crm")[crm_id]["city"] == "Berlin"
    _drop(w, "erp", erp_id, "ort", name="Alpha GmbH")
    w.settle()
    crm = w.rows("crm")[crm_id]
    assert crm["name"] == "Alpha GmbH"  # what was read is synced
    assert crm["city"] == "Berlin" and crm["email"] == "a@alpha.de"  # what was not read is kept
    # a later full reading with a real change still flows
    w.edit("erp", erp_id, city="Hamburg")
    w.settle()
    assert w.rows("crm")[crm_id]["city"] == "Hamburg"


def test_a_field_cleared_for_real_is_still_cleared(tmp_path: Path) -> None:
    w = World(tmp_path)
    erp_id = w.add("erp", number="K1", name="Alpha", city="Berlin")
    w.settle()
    crm_id = next(iter(w.rows("crm")))
    w.edit("erp", erp_id, city=None)  # type: ignore[arg-type]
    w.settle()
    assert w.rows("crm")[crm_id]["city"] is None


def test_a_new_record_without_a_field_is_created_without_it(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.add("crm", number="K9", name="Beta")  # no city column at all, and no email
    w.settle()
    [erp] = w.rows("erp").values()
    assert erp["name"] == "Beta"
    assert "city" not in erp  # unknown: not written as empty

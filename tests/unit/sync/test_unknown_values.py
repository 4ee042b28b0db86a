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


NAME_PARTS = """
systems:
  erp: {connector: memory}
  crm: {connector: memory}
entities:
  person:
    keys: [number]
    fields: {number: str, first_name: str, last_name: str}
    systems:
      erp: {map: {number: nr, first_name: vorname, last_name: nachname}, changed: modified}
      crm:
        changed: modified
        map:
          number: ext
          first_name: {name_part: full, part: first}
          last_name: {name_part: full, part: last}
"""


def test_a_changed_first_name_keeps_the_last_name_in_a_full_name_column(tmp_path: Path) -> None:
    from einklang.config import parse_config
    from einklang.store.state import open_store
    from einklang.sync.breaker import RetrySettings
    from einklang.sync.engine import EngineOptions, SyncEngine
    from einklang.testing.memory import MemoryConnector, MemorySystem

    config = parse_config(NAME_PARTS)
    systems = {name: MemorySystem(name) for name in ("erp", "crm")}
    connectors = {name: MemoryConnector(name, {"store": systems[name]}, config.entities_of(name)) for name in systems}
    retry = RetrySettings(attempts=1, initial_wait=0, max_wait=0, cooldown=0, max_cooldown=0)
    engine = SyncEngine(
        config,
        open_store(f"sqlite:///{tmp_path / 's.db'}"),
        connectors,
        options=EngineOptions(retry=retry),
        sleep=lambda _s: None,
    )

    def settle() -> None:
        for _ in range(6):
            if not engine.run_cycle().busy:
                return
        raise AssertionError("sync did not settle")

    erp_id = systems["erp"].insert(
        "person", {"nr": "1", "vorname": "Erika", "nachname": "Mustermann"}, changed="modified"
    )
    settle()
    [crm] = systems["crm"].records("person").values()
    assert crm["full"] == "Erika Mustermann"
    systems["erp"].edit("person", erp_id, {"vorname": "Erik"}, changed="modified")
    settle()
    [crm] = systems["crm"].records("person").values()
    assert crm["full"] == "Erik Mustermann"  # was "Erik": the unchanged part was taken for empty
    assert systems["erp"].records("person")[erp_id]["nachname"] == "Mustermann"

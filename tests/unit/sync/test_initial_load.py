from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.store_reads import read

from einklang.config import LoadedConfig, load_config
from einklang.demo import scenario
from einklang.store import journal, links, outbox
from einklang.store.rows import PlannedWrite
from einklang.store.state import StateStore, open_store
from einklang.sync import creates, initial_load
from einklang.sync.initial_load import InitialLoad, run_initial_load
from einklang.systems import open_connector


@pytest.fixture
def demo(tmp_path: Path) -> tuple[LoadedConfig, StateStore]:
    config_path = scenario.build(tmp_path, customer_count=60)
    config = load_config(config_path)
    return config, open_store(config.state_url)


def crm_rows(config: LoadedConfig) -> list[Any]:
    engine = sa.create_engine(f"sqlite:///{config.base_dir / 'crm.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT external_id, name, phone, email, country FROM accounts")).all()
    engine.dispose()
    return list(rows)


def load(config: LoadedConfig, store: StateStore, **kwargs: Any) -> initial_load.LoadReport:
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        return run_initial_load(config, store, "company", erp, crm, batch_size=25, **kwargs)


def test_load_into_empty_target_creates_and_links(demo: tuple[LoadedConfig, StateStore]) -> None:
    config, store = demo
    report = load(config, store)
    assert (report.read, report.created, report.failed) == (60, 60, 0)
    rows = crm_rows(config)
    assert len(rows) == 60
    assert len({r.external_id for r in rows}) == 60
    assert read(store, links.count_links, "erp", "company") == read(store, links.count_links, "crm", "company") == 60
    # normalised on the way: E.164 phones, ISO countries
    assert all(r.phone is None or r.phone.startswith("+") for r in rows)
    assert {r.country for r in rows} <= {"DE", "AT", "CH"}
    # the planted invalid values are reported, the records are still there
    assert {w.field for w in report.warnings} == {"email", "phone"}
    # every create is audited with its cause
    assert len([e for e in read(store, journal.audit_log, entity="company", limit=1000) if e.op == "create"]) == 60


def test_rerun_creates_nothing_twice(demo: tuple[LoadedConfig, StateStore]) -> None:
    config, store = demo
    load(config, store)
    again = load(config, store)
    assert again.created == 0
    assert again.skipped == 60
    assert len(crm_rows(config)) == 60


def test_dry_run_changes_nothing(demo: tuple[LoadedConfig, StateStore]) -> None:
    config, store = demo
    report = load(config, store, dry_run=True)
    assert report.created == 60
    assert len(report.plan) == 60
    assert crm_rows(config) == []
    assert read(store, links.count_links, "erp", "company") == 0


def _crash_on_second_batch(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The process dies after the target created the second batch, before it was linked; returns the real step."""
    original = creates._store_created
    calls = {"n": 0}

    def crash_on_second_batch(target: Any, created: Any, batch_id: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("simulated crash after the target created the batch")
        original(target, created, batch_id)

    monkeypatch.setattr(creates, "_store_created", crash_on_second_batch)
    return original


def test_crash_between_create_and_link_does_not_duplicate(
    demo: tuple[LoadedConfig, StateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store = demo
    original = _crash_on_second_batch(monkeypatch)
    with pytest.raises(SystemExit):
        load(config, store)
    assert len(crm_rows(config)) == 50  # two batches of 25 reached the CRM, only one was linked
    monkeypatch.setattr(creates, "_store_created", original)
    report = load(config, store)
    assert report.recovered == 25
    rows = crm_rows(config)
    assert len(rows) == 60
    assert len({r.external_id for r in rows}) == 60


def test_non_empty_target_links_by_key_and_reports_ambiguity(demo: tuple[LoadedConfig, StateStore]) -> None:
    config, store = demo
    engine = sa.create_engine(f"sqlite:///{config.base_dir / 'crm.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO accounts (external_id, name) VALUES ('K10001', 'Schon da GmbH')"))
        conn.execute(sa.text("INSERT INTO accounts (external_id, name) VALUES ('K10002', 'Doppelt A')"))
        conn.execute(sa.text("INSERT INTO accounts (external_id, name) VALUES ('K10002', 'Doppelt B')"))
    engine.dispose()
    report = load(config, store)
    assert not report.target_was_empty
    assert report.linked == 1
    assert report.created == 58
    assert [s.native_id for s in report.skips if "ambiguous" in s.reason] == ["K10002"]
    assert len(crm_rows(config)) == 61


def test_non_empty_target_links_fuzzy_duplicates_and_holds_possible_ones(
    demo: tuple[LoadedConfig, StateStore],
) -> None:
    config, store = demo
    erp = sa.create_engine(f"sqlite:///{config.base_dir / 'erp.db'}")
    with erp.connect() as conn:
        customers = conn.execute(sa.text("SELECT * FROM kunden ORDER BY kundennr")).mappings().all()
    erp.dispose()
    plain = [c for c in customers if c["name2"] is None and c["telefon"] and c["kundennr"] not in ("K10014", "K10018")]
    same, namesake = plain[0], plain[5]
    crm = sa.create_engine(f"sqlite:///{config.base_dir / 'crm.db'}")
    with crm.begin() as conn:
        # typed in by hand: no customer number, no e-mail, "Str." and a differently written phone
        conn.execute(
            sa.text("INSERT INTO accounts (name, address_line, postcode, city, phone) VALUES (:n, :s, :p, :c, :t)"),
            {
                "n": same["name1"].upper(),
                "s": same["strasse"].replace("straße", "str."),
                "p": same["plz"],
                "c": same["ort"],
                "t": same["telefon"],
            },
        )
        # same name, but another city and nothing else in common: not the same customer for sure
        conn.execute(
            sa.text("INSERT INTO accounts (name, postcode, city) VALUES (:n, '99998', 'Irgendwo')"),
            {"n": namesake["name1"]},
        )
    crm.dispose()
    report = load(config, store)
    linked = [e for e in read(store, journal.audit_log, entity="company", limit=1000) if e.op == "link"]
    assert report.linked == 1
    assert same["kundennr"] in linked[0].cause and "duplicate" in linked[0].cause
    held = [s for s in report.skips if "possible duplicate" in s.reason]
    assert [s.native_id for s in held] in ([namesake["kundennr"]], [])
    assert report.created == 60 - 1 - len(held)


def test_records_only_the_target_has_reach_the_source_with_the_first_sync(
    demo: tuple[LoadedConfig, StateStore],
) -> None:
    from contextlib import ExitStack

    from einklang.sync.engine import SyncEngine

    config, store = demo
    crm = sa.create_engine(f"sqlite:///{config.base_dir / 'crm.db'}")
    with crm.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO accounts (external_id, name, address_line, postcode, city, country) "
                "VALUES ('K55555', 'Nur-im-CRM Handels GmbH', 'Dorfstraße 1', '24103', 'Kiel', 'DE')"
            )
        )
    crm.dispose()
    report = load(config, store)
    assert report.target_unlinked == 1
    with ExitStack() as stack:
        connectors = {name: stack.enter_context(open_connector(config, name)) for name in config.model.systems}
        SyncEngine(config, store, connectors).run_cycle()
    erp = sa.create_engine(f"sqlite:///{config.base_dir / 'erp.db'}")
    with erp.connect() as conn:
        row = conn.execute(sa.text("SELECT name1, ort FROM kunden WHERE kundennr = 'K55555'")).first()
    erp.dispose()
    assert row is not None and tuple(row) == ("Nur-im-CRM Handels GmbH", "Kiel")
    assert read(store, links.count_links, "erp", "company") == read(store, links.count_links, "crm", "company") == 61


def test_crash_after_planning_before_sending_is_resumed_once(
    demo: tuple[LoadedConfig, StateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch planned (golden records, source links, create batch) but never sent: the rerun
    expands the pending batch and creates each of its records exactly once."""
    config, store = demo
    original = InitialLoad._send_creates
    calls = {"n": 0}

    def crash_before_second_send(self: InitialLoad, items: Any, batch_id: Any = None) -> None:
        if batch_id is not None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise SystemExit("simulated crash after planning the second batch")
        original(self, items, batch_id)

    monkeypatch.setattr(InitialLoad, "_send_creates", crash_before_second_send)
    with pytest.raises(SystemExit):
        load(config, store)
    assert len(crm_rows(config)) == 25
    monkeypatch.setattr(InitialLoad, "_send_creates", original)
    report = load(config, store)
    rows = crm_rows(config)
    assert len(rows) == 60
    assert len({r.external_id for r in rows}) == 60
    assert report.created == 35  # the 25 planned ones (resumed) and the 10 never read before
    assert read(store, links.count_links, "crm", "company") == read(store, links.count_links, "erp", "company") == 60
    assert read(store, outbox.outbox_counts, "crm", "company").get("pending", 0) == 0


def test_a_batch_a_crashed_load_left_is_finished_by_sync(
    demo: tuple[LoadedConfig, StateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import ExitStack

    from einklang.sync.engine import SyncEngine

    config, store = demo
    _crash_on_second_batch(monkeypatch)
    with pytest.raises(SystemExit):
        load(config, store)
    assert len(crm_rows(config)) == 50
    with ExitStack() as stack:
        connectors = {name: stack.enter_context(open_connector(config, name)) for name in config.model.systems}
        SyncEngine(config, store, connectors).run_cycle()
    rows = crm_rows(config)
    # the 25 created before the crash are found (correlation column) and linked, none created twice;
    # the 10 records the load never read reach the CRM as new ERP records
    assert len(rows) == 60
    assert len({r.external_id for r in rows}) == 60
    assert read(store, links.count_links, "crm", "company") == 60


def test_mapping_in_worker_processes_gives_the_same_result(tmp_path: Path) -> None:
    results = []
    for workers in (0, 2):
        config_path = scenario.build(tmp_path / f"w{workers}", customer_count=60)
        config = load_config(config_path)
        store = open_store(config.state_url)
        report = load(config, store, workers=workers)
        rows = sorted(tuple(r) for r in crm_rows(config))
        linked = read(store, links.count_links, "crm", "company")
        problems = sorted((w.native_id, w.field, w.reason) for w in report.warnings)
        results.append((report.created, rows, linked, problems))
        store.close()
    assert results[0] == results[1]
    assert results[0][0] == 60


def test_recovery_never_links_a_record_that_belongs_to_another_golden_record(
    demo: tuple[LoadedConfig, StateStore],
) -> None:
    from einklang.sync.recovery import recover_pending_creates

    config, store = demo
    load(config, store)
    payload = {"customer_number": "K10001", "name": "Doppelt angelegt GmbH"}
    with store.transaction() as conn:
        (golden_id,) = links.insert_golden(conn, "company", [payload])
        outbox.add_outbox(
            conn, None, [PlannedWrite("crm", "company", golden_id, "create", payload, "test: an interrupted create")]
        )
    with open_connector(config, "crm") as crm:
        report = recover_pending_creates(
            store, crm, config.mapping("company", "crm"), "company", ("customer_number",), None
        )
    assert report.linked == 0 and report.to_create == [] and report.ambiguous == [golden_id]
    assert read(store, links.count_links, "crm", "company") == 60
    assert read(store, outbox.outbox_counts, "crm", "company").get("failed") == 1
    assert any("possible duplicate" in p["message"] for p in read(store, journal.problems))


def test_recovery_drops_creates_of_golden_records_no_longer_active(demo: tuple[LoadedConfig, StateStore]) -> None:
    from einklang.sync.recovery import recover_pending_creates

    config, store = demo
    payload = {"customer_number": "K99999", "name": "Gelöscht GmbH"}
    with store.transaction() as conn:
        (golden_id,) = links.insert_golden(conn, "company", [payload])
        links.set_golden_status(conn, golden_id, "deleted")
        outbox.add_outbox(
            conn, None, [PlannedWrite("crm", "company", golden_id, "create", payload, "test: an interrupted create")]
        )
    with open_connector(config, "crm") as crm:
        report = recover_pending_creates(
            store, crm, config.mapping("company", "crm"), "company", ("customer_number",), None
        )
    assert report.to_create == [] and report.linked == 0
    assert read(store, outbox.outbox_counts, "crm", "company") == {"superseded": 1}


def test_each_loaded_record_has_its_create_in_the_audit_log(demo: tuple[LoadedConfig, StateStore]) -> None:
    """A loaded batch is audited in one row; each record's history still shows its own create."""
    config, store = demo
    report = load(config, store)
    with store.read() as conn:
        crm_links = dict(_crm_links(conn))
        assert conn.execute(sa.text("SELECT count(*) FROM audit WHERE op = 'create_batch'")).scalar_one() == 3
        for golden_id, link in crm_links.items():
            [entry] = journal.audit_log(conn, golden_id=golden_id)
            assert (entry.op, entry.system, entry.native_id, entry.run_id) == ("create", "crm", link, report.run_id)
            assert entry.cause == "initial load from erp" and entry.new["name"]
    assert len(crm_links) == 60


def _crm_links(conn: Any) -> list[Any]:
    rows = conn.execute(sa.text("SELECT golden_id, native_id FROM links WHERE system = 'crm'")).all()
    return [(row.golden_id, row.native_id) for row in rows]

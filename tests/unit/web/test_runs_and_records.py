"""Runs with undo, records with search, history and retry, the overview, the OpenAPI description."""

from __future__ import annotations

import sqlalchemy as sa
from tests.unit.web.site import Site, contested_customer, csrf_of

IMPORT_RUN = 2


def _contacts(site: Site) -> int:
    return int(site.sql("crm.db", "SELECT count(*) FROM contacts")[0][0])


def test_undo_of_an_import_says_what_it_reverts_and_reverts_it(make_client, site: Site) -> None:
    client = make_client("anna")
    runs = client.get("/runs").text
    assert f'href="/runs/{IMPORT_RUN}/undo"' in runs
    before = _contacts(site)
    confirm = client.get(f"/runs/{IMPORT_RUN}/undo")
    assert confirm.status_code == 200
    plan = client.get(f"/api/v1/runs/{IMPORT_RUN}/undo").json()["plan"]
    assert plan["deleted"] > 0 and plan["dry_run"] is True
    assert f"{plan['deleted']} records deleted" in confirm.text
    assert _contacts(site) == before  # the confirmation changed nothing
    done = client.post(f"/runs/{IMPORT_RUN}/undo", data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 200 and done.url.path == "/runs"
    assert f"Run {IMPORT_RUN} undone" in done.text
    created = site.sql(
        "einklang.db",
        "SELECT count(*) FROM audit WHERE run_id = :r AND op = 'create' AND entity = 'contact'",
        r=IMPORT_RUN,
    )[0][0]
    assert created > 0 and _contacts(site) == before - created
    store = site.store()
    run = store.get_run(IMPORT_RUN)
    undo_runs = [r for r in client.get("/api/v1/runs").json()["runs"] if r["kind"] == "undo"]
    store.close()
    assert run is not None and run["status"] == "undone"
    assert undo_runs[0]["args"] == {"run": IMPORT_RUN, "by": "anna"}
    # undone runs offer no undo, and their review rows wait no more
    assert f'href="/runs/{IMPORT_RUN}/undo"' not in client.get("/runs").text
    assert client.get("/api/v1/reviews", params={"show": "all"}).json()["rows"] == []


def test_records_are_found_by_number_name_and_email(make_client, site: Site) -> None:
    client = make_client("viewer")
    number = contested_customer(site)
    name, email = site.sql("erp.db", "SELECT name1, email FROM kunden WHERE kundennr = :k", k=number)[0]
    for text in (number, name.split()[0].lower(), email.upper()):
        found = client.get("/api/v1/records", params={"q": text}).json()["records"]
        assert any(r["record"]["keys"].get("customer_number") == number for r in found), text
    page = client.get("/records", params={"q": number})
    assert number in page.text
    assert "No record found." in client.get("/records", params={"q": "no-such-thing-xyz"}).text


def test_a_record_shows_each_systems_values_links_and_history(make_client, site: Site) -> None:
    client = make_client("viewer")
    number = contested_customer(site)
    golden_id = client.get("/api/v1/records", params={"q": number}).json()["records"][0]["golden_id"]
    page = client.get(f"/records/{golden_id}")
    assert page.status_code == 200
    assert "Potsdam" in page.text and "Cottbus" in page.text  # each system's value, held by the conflict
    assert number in page.text
    data = client.get(f"/api/v1/records/{golden_id}").json()["record"]
    assert {link["system"] for link in data["links"]} == {"erp", "crm"}
    assert data["history"] and data["conflicts"][0]["field"] == "city"
    assert client.get("/records/no-such-id").status_code == 404


def test_an_isolated_write_can_be_retried(make_client, site: Site) -> None:
    store = site.store()
    with store.transaction() as conn:
        golden_id = conn.execute(sa.text("SELECT golden_id FROM links LIMIT 1")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO outbox (system, entity, golden_id, op, payload, cause, status, attempts, last_error, "
                "created_at) VALUES ('crm', 'company', :g, 'update', '{\"city\": \"Ulm\"}', 'test', 'failed', 5, "
                "'rejected: city too long', CURRENT_TIMESTAMP)"
            ),
            {"g": golden_id},
        )
    store.close()
    client = make_client("sabine")
    page = client.get("/records")
    assert "rejected: city too long" in page.text
    outbox_id = client.get("/api/v1/isolated").json()["writes"][0]["id"]
    client.post(f"/isolated/{outbox_id}/retry", data={"csrf": csrf_of(page.text), "back": "/records"})
    assert site.sql("einklang.db", "SELECT status, attempts FROM outbox WHERE id = :i", i=outbox_id)[0] == (
        "pending",
        0,
    )
    cause = site.sql("einklang.db", "SELECT cause FROM audit ORDER BY id DESC LIMIT 1")[0][0]
    assert "sabine" in cause
    assert client.post(f"/isolated/{outbox_id}/retry", data={"csrf": csrf_of(page.text)}).status_code == 404


def test_the_overview_shows_systems_entities_and_refreshes_itself(make_client, site: Site) -> None:
    client = make_client("viewer")
    page = client.get("/")
    assert 'hx-get="/overview/panel"' in page.text and "every 5s" in page.text
    data = client.get("/api/v1/overview").json()
    assert [s["system"] for s in data["systems"]] == ["erp", "crm"]
    assert all(s["reachable"] for s in data["systems"])
    company = next(e for e in data["entities"] if e["entity"] == "company")
    assert company["open_conflicts"] == 1 and company["linked"] >= 24
    contact = next(e for e in data["entities"] if e["entity"] == "contact")
    assert contact["possible_duplicates"] >= 2
    assert data["cycles"] and data["cycles"][0]["summary"]["entities"]
    assert "Run a sync cycle now" not in page.text  # admins only
    panel = client.get("/overview/panel")
    assert panel.status_code == 200 and "<html" not in panel.text


def test_the_api_is_described_by_openapi(make_client) -> None:
    client = make_client("viewer")
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in ("/api/v1/conflicts", "/api/v1/conflicts/{conflict_id}/decision", "/api/v1/reviews", "/api/v1/runs"):
        assert path in paths, path
    assert "post" in paths["/api/v1/runs/{run_id}/undo"] and "get" in paths["/api/v1/runs/{run_id}/undo"]
    assert not any(path.startswith("/conflicts") for path in paths)  # pages are not part of the API


def test_the_overview_lists_live_sync_workers_with_their_leases(make_client, site: Site) -> None:
    from einklang.store import leases

    store = site.store()
    try:
        leases.register_worker(store.engine, "host-b:4242:w1")
        assert leases.acquire(store.engine, "entity:company", "host-b:4242:w1", 30) is not None
        partition = leases.lease_name("contact", 1, 2)  # a partition of another entity's golden records
        assert leases.acquire(store.engine, partition, "host-b:4242:w1", 30) is not None
        leases.register_worker(store.engine, "host-c:99:w2")
        leases.stop_worker(store.engine, "host-c:99:w2")  # stopped workers are not shown
        client = make_client("viewer")
        data = client.get("/api/v1/overview").json()
        (worker,) = data["workers"]
        # the heartbeat's age is however long this machine took since register_worker: only its sign is fixed
        assert worker.pop("heartbeat_seconds") >= 0
        assert worker == {"worker": "host-b pid 4242", "cycles": 0, "leases": ["company (1)", "contact 1/2 (1)"]}
        panel = client.get("/overview/panel", headers={"Accept-Language": "de"}).text
        assert "Sync-Worker" in panel and "host-b pid 4242" in panel and "contact 1/2 (1)" in panel
    finally:
        with store.transaction() as conn:
            conn.exec_driver_sql("DELETE FROM worker_leases")
            conn.exec_driver_sql("DELETE FROM sync_workers")
        store.close()

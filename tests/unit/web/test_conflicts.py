"""Conflicts in the browser and the API: list, filters, the page per record, decisions."""

from __future__ import annotations

import json

from tests.unit.web.site import Site, contested_customer, csrf_of, open_conflicts

from einklang.store import conflicts as ops
from einklang.web.runtime import OnDemandCycles


def test_the_list_names_the_record_and_shows_every_value(make_client, site: Site) -> None:
    client = make_client("viewer")
    page = client.get("/conflicts")
    number = contested_customer(site)
    assert number in page.text  # the customer number people know
    for value in ("Potsdam", "Cottbus"):
        assert value in page.text
    assert client.get("/conflicts", params={"field": "email"}).text.count('href="/conflicts/1"') == 0
    assert client.get("/conflicts", params={"field": "city"}).text.count('href="/conflicts/1"') == 1
    assert client.get("/conflicts", params={"system": "erp"}).text.count('href="/conflicts/1"') == 1
    assert client.get("/conflicts", params={"system": "nosuch"}).text.count('href="/conflicts/1"') == 0
    assert client.get("/conflicts", params={"older_than_days": "3"}).text.count('href="/conflicts/1"') == 0
    data = client.get("/api/v1/conflicts", params={"entity": "company"}).json()
    assert data["total"] == 1 and data["conflicts"][0]["record"]["keys"] == {"customer_number": number}


def test_the_page_shows_base_values_and_the_fields_not_in_conflict(make_client) -> None:
    client = make_client("sabine")
    page = client.get("/conflicts/1")
    assert page.status_code == 200
    assert "Potsdam" in page.text and "Cottbus" in page.text
    assert "postal_code" in page.text  # a field not in conflict, for context
    assert client.get("/conflicts/999").status_code == 404


def test_a_decision_is_stored_with_the_users_name_and_applied_by_the_next_cycle(make_client, site: Site) -> None:
    client = make_client("anna")
    page = client.get("/conflicts/1")
    response = client.post(
        "/conflicts/1/decide", data={"csrf": csrf_of(page.text), "choice": "take:crm", "expected": _expected(page.text)}
    )
    assert response.status_code == 200 and response.url.path == "/conflicts"
    store = site.store()
    with store.read() as conn:
        decided = ops.get_conflict(conn, 1)
    assert decided is not None and decided.status == "decided"
    assert decided.resolution == {"take": "crm", "by": "anna"}
    # an admin runs a cycle now: the same engine and lock as `einklang sync --once`
    client.post("/cycle", data={"csrf": csrf_of(page.text)})
    runtime = client.app.state.web.runtime
    assert isinstance(runtime, OnDemandCycles)
    runtime.wait(60)
    number = contested_customer(site)
    assert site.sql("erp.db", "SELECT ort FROM kunden WHERE kundennr = :k", k=number)[0][0] == "Cottbus"
    assert site.sql("crm.db", "SELECT city FROM accounts WHERE external_id = :k", k=number)[0][0] == "Cottbus"
    with store.read() as conn:
        assert ops.get_conflict(conn, 1).status == "resolved"  # type: ignore[union-attr]
        causes = [row[0] for row in conn.exec_driver_sql("SELECT cause FROM audit WHERE op = 'resolve'")]
    store.close()
    assert any("by anna" in cause for cause in causes)


def _expected(html: str) -> str:
    import html as html_module
    import re

    found = re.search(r'name="expected" value="([^"]+)"', html)
    assert found
    return html_module.unescape(found.group(1))


def test_a_stale_form_is_refused_with_the_current_state(make_client, site: Site) -> None:
    steward = make_client("sabine")
    page = steward.get("/conflicts/1")
    admin = make_client("anna")
    admin_page = admin.get("/conflicts/1")
    admin.post("/conflicts/1/decide", data={"csrf": csrf_of(admin_page.text), "choice": "take:erp"})
    response = steward.post(
        "/conflicts/1/decide", data={"csrf": csrf_of(page.text), "choice": "take:crm", "expected": _expected(page.text)}
    )
    assert response.status_code == 409
    assert "already decided" in response.text or "bereits" in response.text or "inzwischen" in response.text
    store = site.store()
    with store.read() as conn:
        assert ops.get_conflict(conn, 1).resolution == {"take": "erp", "by": "anna"}  # type: ignore[union-attr]
    store.close()


def test_a_form_shown_before_the_values_changed_is_refused(make_client, site: Site) -> None:
    client = make_client("sabine")
    page = client.get("/conflicts/1")
    store = site.store()
    with store.transaction() as conn:
        ops.update_conflict_values(conn, 1, {"erp": "Potsdam", "crm": "Brandenburg"})
    store.close()
    response = client.post(
        "/conflicts/1/decide", data={"csrf": csrf_of(page.text), "choice": "take:crm", "expected": _expected(page.text)}
    )
    assert response.status_code == 409
    assert "Brandenburg" in response.text  # the current state is shown
    assert [c.status for c in open_conflicts(site)] == ["open"]


def test_an_entered_value_is_checked_against_the_field_type(make_client, site: Site) -> None:
    client = make_client("sabine")
    me = client.get("/api/v1/me").json()
    headers = {"X-CSRF-Token": me["csrf"]}
    response = client.post("/api/v1/conflicts/1/decision", json={"take": "nosuch"}, headers=headers)
    assert response.status_code == 400
    response = client.post("/api/v1/conflicts/1/decision", json={"take": "erp", "value": "Jena"}, headers=headers)
    assert response.status_code == 400 and "exactly one" in response.json()["error"]["message"]
    response = client.post("/api/v1/conflicts/1/decision", json={"value": "Frankfurt (Oder)"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["resolution"]["by"] == "sabine"
    again = client.post("/api/v1/conflicts/1/decision", json={"take": "erp"}, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["current"]["status"] == "decided"


def test_apply_to_all_conflicts_like_this(make_client, site: Site) -> None:
    store = site.store()
    with store.transaction() as conn:
        first = ops.get_conflict(conn, 1)
        assert first is not None
        like = ops.insert_conflict(conn, "company", first.golden_id, "city", "Erfurt", first.values, "test")
        other = ops.insert_conflict(
            conn, "company", first.golden_id, "city", "Erfurt", {"erp": "Jena", "crm": "Gera"}, "x"
        )
    store.close()
    client = make_client("sabine")
    page = client.get("/conflicts/1")
    assert "1 more" in page.text or "1 weitere" in page.text
    client.post("/conflicts/1/decide", data={"csrf": csrf_of(page.text), "choice": "take:erp", "apply_similar": "1"})
    store = site.store()
    with store.read() as conn:
        statuses = {c.id: c.status for c in ops.list_conflicts(conn, None)}
        resolution = json.loads(conn.exec_driver_sql(f"SELECT resolution FROM conflicts WHERE id = {like}").scalar())
    store.close()
    assert statuses == {1: "decided", like: "decided", other: "open"}
    assert resolution["by"] == "sabine"

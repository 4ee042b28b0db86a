"""Duplicate review in the browser: the rows of an import, decided with the code of `review apply`."""

from __future__ import annotations

import sqlalchemy as sa
from tests.unit.web.site import Site, csrf_of

from einklang.web.reviewing import merge_preview

IMPORT_RUN = 2  # the site's import (run 1 is the initial load)


def _review_row(site: Site, review_id: str) -> dict[str, object]:
    store = site.store()
    with store.read() as conn:
        row = conn.execute(
            sa.text(
                "SELECT decision, applied_run_id, assigned_to FROM review_rows WHERE run_id = :r AND review_id = :i"
            ),
            {"r": IMPORT_RUN, "i": review_id},
        ).one()
    store.close()
    return dict(row._mapping)


def test_each_person_sees_the_rows_of_their_own_export_by_default(make_client) -> None:
    sabine = make_client("sabine")
    mine = sabine.get("/reviews").text
    assert f"/reviews/{IMPORT_RUN}/R2?" in mine  # from exports/sabine_wolf_outlook.csv
    assert f"/reviews/{IMPORT_RUN}/R3?" not in mine  # from thomas_lange's export
    every = sabine.get("/reviews", params={"show": "all"}).text
    assert f"/reviews/{IMPORT_RUN}/R2?" in every and f"/reviews/{IMPORT_RUN}/R3?" in every
    rows = sabine.get("/api/v1/reviews").json()["rows"]
    assert {row["review_id"] for row in rows} == {"R2"}


def test_a_row_can_be_assigned_to_someone(make_client, site: Site) -> None:
    anna = make_client("anna")
    page = anna.get(f"/reviews/{IMPORT_RUN}/R3")
    anna.post(f"/reviews/{IMPORT_RUN}/R3/assign", data={"csrf": csrf_of(page.text), "user": "sabine"})
    assert _review_row(site, "R3")["assigned_to"] == "sabine"
    assert f"/reviews/{IMPORT_RUN}/R3?" in make_client("sabine").get("/reviews").text
    me = anna.get("/api/v1/me").json()
    response = anna.post(
        f"/api/v1/reviews/{IMPORT_RUN}/R3/assignment", json={"user": "nobody"}, headers={"X-CSRF-Token": me["csrf"]}
    )
    assert response.status_code == 404


def test_the_row_shows_incoming_and_candidate_values_and_a_preview(make_client) -> None:
    client = make_client("sabine")
    page = client.get(f"/reviews/{IMPORT_RUN}/R2")
    assert page.status_code == 200
    assert "lena.fischer@hofmann-hauste.de" in page.text and "lena.fischer@gmx.de" in page.text
    preview = client.post(
        f"/reviews/{IMPORT_RUN}/R2/preview", data={"csrf": csrf_of(page.text), "take_email": "incoming"}
    )
    assert preview.status_code == 200
    assert "lena.fischer@hofmann-hauste.de" in preview.text and "lena.fischer@gmx.de" not in preview.text


def test_merge_preview_follows_review_apply() -> None:
    incoming = {"email": "new@x.de", "phone": "+4930111", "city": "Köln"}
    candidate = {"email": "old@x.de", "phone": "", "city": "Bonn"}
    assert merge_preview(incoming, candidate, {}) == {
        "email": {"value": "old@x.de", "from": "existing"},
        "phone": {"value": "+4930111", "from": "incoming"},  # an empty field is filled
        "city": {"value": "Bonn", "from": "existing"},
    }
    chosen = merge_preview(incoming, candidate, {"email": "incoming", "phone": "existing"})
    assert chosen["email"] == {"value": "new@x.de", "from": "incoming"}
    assert chosen["phone"] == {"value": "", "from": ""}


def test_merge_with_a_per_field_choice_then_the_next_row(make_client, site: Site) -> None:
    client = make_client("sabine")
    page = client.get(f"/reviews/{IMPORT_RUN}/R2?show=all")
    response = client.post(
        f"/reviews/{IMPORT_RUN}/R2/decide",
        data={
            "csrf": csrf_of(page.text),
            "decision": "merge",
            "merge_into": "1",
            "take_email": "incoming",
            "show": "all",
            "next": "1",
        },
    )
    assert response.status_code == 200, response.text
    assert response.url.path == f"/reviews/{IMPORT_RUN}/R3"  # decide and next
    assert site.sql("crm.db", "SELECT email FROM contacts WHERE id = 2")[0][0] == "lena.fischer@hofmann-hauste.de"
    stored = _review_row(site, "R2")
    assert stored["decision"] == "merge" and stored["applied_run_id"] is not None
    store = site.store()
    with store.read() as conn:
        causes = [
            row[0]
            for row in conn.execute(
                sa.text("SELECT cause FROM audit WHERE run_id = :r"), {"r": stored["applied_run_id"]}
            )
        ]
    store.close()
    assert causes and all("decided by sabine" in cause for cause in causes)
    # the same row again: refused, nothing applied twice
    again = client.post(f"/reviews/{IMPORT_RUN}/R2/decide", data={"csrf": csrf_of(page.text), "decision": "create"})
    assert again.status_code == 409


def test_a_candidate_changed_since_the_import_is_not_overwritten(make_client, site: Site) -> None:
    site.sql("crm.db", "UPDATE contacts SET email = 'lena@changed.example' WHERE id = 2")
    client = make_client("sabine")
    page = client.get(f"/reviews/{IMPORT_RUN}/R2")
    response = client.post(
        f"/reviews/{IMPORT_RUN}/R2/decide",
        data={"csrf": csrf_of(page.text), "decision": "merge", "take_email": "incoming"},
    )
    assert response.status_code == 409
    assert "changed" in response.text or "geändert" in response.text
    assert site.sql("crm.db", "SELECT email FROM contacts WHERE id = 2")[0][0] == "lena@changed.example"
    assert _review_row(site, "R2")["decision"] is None


def test_a_decision_that_does_not_fit_is_refused(make_client) -> None:
    client = make_client("sabine")
    me = client.get("/api/v1/me").json()
    headers = {"X-CSRF-Token": me["csrf"]}
    response = client.post(f"/api/v1/reviews/{IMPORT_RUN}/R2/decision", json={"decision": "delete"}, headers=headers)
    assert response.status_code == 400
    response = client.post(
        f"/api/v1/reviews/{IMPORT_RUN}/R2/decision", json={"decision": "merge", "merge_into": 5}, headers=headers
    )
    assert response.status_code == 400
    assert (
        client.post(
            f"/api/v1/reviews/{IMPORT_RUN}/R99/decision", json={"decision": "skip"}, headers=headers
        ).status_code
        == 404
    )


def test_skip_through_the_api(make_client, site: Site) -> None:
    client = make_client("sabine")
    me = client.get("/api/v1/me").json()
    response = client.post(
        f"/api/v1/reviews/{IMPORT_RUN}/R3/decision", json={"decision": "skip"}, headers={"X-CSRF-Token": me["csrf"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["report"]["skipped"] == 1
    assert _review_row(site, "R3")["decision"] == "skip"


def test_a_viewer_cannot_decide_a_row(make_client, site: Site) -> None:
    client = make_client("viewer")
    page = client.get(f"/reviews/{IMPORT_RUN}/R2")
    assert "Decide and next" not in page.text and "Entscheiden und weiter" not in page.text
    response = client.post(f"/reviews/{IMPORT_RUN}/R2/decide", data={"csrf": csrf_of(page.text), "decision": "skip"})
    assert response.status_code == 403
    assert _review_row(site, "R2")["decision"] is None

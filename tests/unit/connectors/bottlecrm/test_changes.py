"""Reading changes between reconciliations: what the feed, the webhooks and the cursor decide.

The feed's shape is BottleCRM's (``GET /api/activities/``); the real server is used in
tests/integration/test_bottlecrm_changes.py, this one varies what a server cannot be made to show.
"""

from __future__ import annotations

from typing import Any

import httpx

from einklang.connectors.bottlecrm import BottleCrmConnector

LIST = "/api/contacts/"


def activity(number: int, record_id: str, at: str, action: str = "UPDATE") -> dict[str, Any]:
    return {"id": f"act-{number}", "action": action, "entity_type": "Contact", "entity_id": record_id, "timestamp": at}


def crm_with(feed: list[dict[str, Any]], records: dict[str, str], seen: list[str]) -> BottleCrmConnector:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/api/activities/":
            return httpx.Response(200, json={"error": False, "count": len(feed), "activities": feed})
        if request.url.path == LIST:
            rows = [{"id": i, "updated_at": v, "first_name": i} for i, v in records.items()]
            return httpx.Response(200, json={"count": len(rows), "contact_obj_list": rows})
        native_id = request.url.path.removeprefix(LIST).strip("/")
        if native_id not in records:
            return httpx.Response(404, json={"error": True})
        return httpx.Response(200, json={"contact_obj": {"id": native_id, "updated_at": records[native_id]}})

    return BottleCrmConnector(
        "crm",
        {"url": "http://crm.test", "token": "t"},
        {"person": {"resource": "contact"}},
        transport=httpx.MockTransport(handle),
    )


def test_ids_named_by_a_webhook_are_read_even_when_the_feed_shows_nothing() -> None:
    seen: list[str] = []
    crm = crm_with([], {"c-1": "2027-01-01T00:00:00Z", "c-2": "2027-01-01T00:00:00Z"}, seen)
    cursor = list(crm.read_changes("person", None))[-1].cursor
    crm.inbox.add("contact", ["c-2", "gone"])
    seen.clear()
    [page] = list(crm.read_changes("person", cursor))
    assert [r.native_id for r in page.records] == ["c-2"] and page.deleted_ids == ["gone"]
    assert LIST not in seen
    assert crm.inbox.waiting("contact") == set()  # taken once the page was handed on


def test_a_full_feed_whose_oldest_row_is_new_falls_back_to_the_whole_list() -> None:
    seen: list[str] = []
    feed: list[dict[str, Any]] = []
    records = {"c-1": "2027-01-01T00:00:00Z"}
    crm = crm_with(feed, records, seen)
    cursor = list(crm.read_changes("person", None))[-1].cursor
    feed.extend(activity(n, "c-1", f"2027-01-02T00:{n // 60:02d}:{n % 60:02d}Z") for n in range(50))
    records["c-1"] = "2027-01-02T00:00:49Z"
    seen.clear()
    pages = list(crm.read_changes("person", cursor))
    assert LIST in seen  # 50 rows, all after the cursor: older ones may be hidden
    assert [r.native_id for p in pages for r in p.records] == ["c-1"]
    # from the new position, the same 50 rows are old news: the feed alone, nothing reported
    seen.clear()
    assert [r for p in crm.read_changes("person", pages[-1].cursor) for r in p.records] == []
    assert seen == ["/api/activities/"]


def test_without_the_feed_every_read_scans_the_list() -> None:
    seen: list[str] = []
    crm = crm_with([], {"c-1": "2027-01-01T00:00:00Z"}, seen)
    scanning = BottleCrmConnector(
        "crm",
        {"url": "http://crm.test", "token": "t", "change_feed": False},
        {"person": {"resource": "contact"}},
        transport=crm.client._transport,
    )
    cursor = list(scanning.read_changes("person", None))[-1].cursor
    seen.clear()
    assert [r for p in scanning.read_changes("person", cursor) for r in p.records] == []
    assert seen == [LIST]

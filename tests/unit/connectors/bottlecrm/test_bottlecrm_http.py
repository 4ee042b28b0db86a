"""Retry handling of the HTTP connectors, shown on BottleCRM with an httpx MockTransport.

A real server cannot be made to answer 429 or lose an answer on demand, so these run without one.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from einklang.connectors._http import RetryPolicy, retry_after_seconds
from einklang.connectors.base import SystemUnavailable
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.testing.contract import live_ids

ENTITIES = {"company": {"resource": "account"}, "person": {"resource": "contact"}}


def person(first: str, last: str, **extra: Any) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "email": f"{first.lower()}@example.org", **extra}


def scripted(*answers: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    remaining = list(answers)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = remaining.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handle), seen


def mocked_connector(transport: httpx.MockTransport, waits: list[float], attempts: int = 4) -> BottleCrmConnector:
    policy = RetryPolicy(attempts=attempts, initial_wait=0.5, max_wait=30, sleep=waits.append)
    return BottleCrmConnector(
        "crm", {"url": "http://crm.test", "token": "t"}, ENTITIES, transport=transport, retry_policy=policy
    )


CONTACT_LIST = {"count": 0, "contact_obj_list": []}


def test_429_waits_as_long_as_retry_after_says() -> None:
    transport, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, headers={"Retry-After": "120"}),  # capped at max_wait
        httpx.Response(503),
        httpx.Response(200, json=CONTACT_LIST),
    )
    waits: list[float] = []
    assert list(live_ids(mocked_connector(transport, waits), "person")) == []
    assert waits == [7.0, 30.0, 2.0] and len(seen) == 4  # third wait: backoff 0.5 * 2**2


def test_persistent_failure_becomes_system_unavailable() -> None:
    transport, _ = scripted(*[httpx.Response(502)] * 3)
    with pytest.raises(SystemUnavailable, match="HTTP 502 after 3 attempts"):
        list(live_ids(mocked_connector(transport, [], attempts=3), "person"))
    transport, _ = scripted(*[httpx.ConnectError("refused")] * 2)
    with pytest.raises(SystemUnavailable, match="ConnectError"):
        list(live_ids(mocked_connector(transport, [], attempts=2), "person"))


def test_create_is_not_repeated_after_a_lost_answer() -> None:
    # A read timeout on POST may mean "created, answer lost": retrying could double the record.
    transport, seen = scripted(httpx.ReadTimeout("slow"), httpx.Response(200, json={"id": "x"}))
    with pytest.raises(SystemUnavailable):
        mocked_connector(transport, []).create("person", [person("Erika", "Muster")])
    assert len(seen) == 1
    # ... but a 429 says the server did nothing, so the create is repeated.
    detail = {"contact_obj": {"id": "x", "updated_at": "2026-01-01T00:00:00Z", "first_name": "Erika"}}
    transport, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(200, json={"id": "x"}),
        httpx.Response(200, json=detail),
    )
    [created] = mocked_connector(transport, []).create("person", [person("Erika", "Muster")])
    assert created.native_id == "x" and [r.method for r in seen] == ["POST", "POST", "GET"]


def test_retry_after_as_http_date() -> None:
    from datetime import UTC, datetime

    response = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert retry_after_seconds(response, now=datetime(2026, 10, 21, 7, 27, 30, tzinfo=UTC)) == 30.0
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None

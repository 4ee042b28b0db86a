"""Concurrent BottleCRM requests: order of results, a 429 pausing the pool, an outage stopping it.

httpx's MockTransport stands in for the server: a real one cannot be made to answer 429 on demand.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from einklang.connectors._http import RetryPolicy
from einklang.connectors.base import RecordRejected, StaleVersion, SystemUnavailable
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.connectors.bottlecrm._pool import RequestGate, RequestPool
from einklang.connectors.bottlecrm.connector import RecordUpdate


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_429_holds_back_the_other_threads_not_the_one_that_retries_itself() -> None:
    clock = FakeClock()
    gate = RequestGate(max_wait=30, default_wait=1, clock=clock, sleep=clock.sleep)
    gate.after_response(httpx.Response(429, headers={"Retry-After": "7"}))
    gate.wait()  # this thread got the 429: send_with_retry waits for it
    assert clock.slept == []
    other = threading.Thread(target=gate.wait)
    other.start()
    other.join()
    assert clock.slept == [7.0] and gate.pauses == 1
    gate.after_response(httpx.Response(429, headers={"Retry-After": "600"}))  # capped
    other = threading.Thread(target=gate.wait)
    other.start()
    other.join()
    assert clock.slept[-1] == 30


def test_results_keep_their_order_and_an_outage_stops_what_is_not_sent() -> None:
    pool = RequestPool(4, system="crm")
    assert pool.map(lambda n: n * 2, list(range(20))) == [n * 2 for n in range(20)]

    sent: list[int] = []

    def work(n: int) -> int:
        if n == 0:
            raise SystemUnavailable("HTTP 503 after 5 attempts", system="crm")
        if n == 1:
            raise RecordRejected("phone: Enter a valid phone number", system="crm")
        sent.append(n)
        return n

    one_at_a_time = RequestPool(1, system="crm")
    results = one_at_a_time.map(work, [0, 1, 2])
    assert isinstance(results[0], SystemUnavailable) and sent == []
    assert all(isinstance(r, SystemUnavailable) and "not sent" in str(r) for r in results[1:])
    pool.close()


def contact(native_id: str, version: str, **fields: Any) -> dict[str, Any]:
    return {"contact_obj": {"id": native_id, "updated_at": version, "first_name": "E", **fields}}


def test_update_many_checks_each_version_and_waits_out_a_429() -> None:
    versions = {"a": "v1", "b": "v1", "c": "v9"}
    lock = threading.Lock()
    answered_429 = []

    def handle(request: httpx.Request) -> httpx.Response:
        native_id = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        with lock:
            if request.method == "PATCH":
                if not answered_429:
                    answered_429.append(native_id)
                    return httpx.Response(429, headers={"Retry-After": "3"})
                versions[native_id] = "v2"
                return httpx.Response(200, json={"error": False})
            return httpx.Response(200, json=contact(native_id, versions[native_id]))

    waits: list[float] = []
    policy = RetryPolicy(attempts=3, initial_wait=0.1, max_wait=30, sleep=waits.append)
    crm = BottleCrmConnector(
        "crm",
        {"url": "http://crm.test", "token": "t", "concurrency": 3},
        {"person": {"resource": "contact"}},
        transport=httpx.MockTransport(handle),
        retry_policy=policy,
    )
    updates = [RecordUpdate(i, {"city": "Bonn"}, "v1") for i in ("a", "b", "c")]
    a, b, c = crm.update_many("person", updates)
    assert not isinstance(a, Exception) and a.version == "v2"
    assert not isinstance(b, Exception) and b.version == "v2"
    assert isinstance(c, StaleVersion) and versions["c"] == "v9"  # not written
    assert 3.0 in waits and crm.gate.pauses == 1
    crm.close()


def test_unknown_fields_are_refused_per_record() -> None:
    crm = BottleCrmConnector(
        "crm",
        {"url": "http://crm.test", "token": "t"},
        {"person": {"resource": "contact"}},
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=contact("a", "v1"))),
    )
    [result] = crm.update_many("person", [RecordUpdate("a", {"shoe_size": 44}, "v1")])
    assert isinstance(result, RecordRejected)
    with pytest.raises(RecordRejected):
        crm.update("person", "a", {"shoe_size": 44}, "v1")
    crm.close()

"""A 429 with Retry-After under concurrent updates, against a real HTTP server on localhost.

The server (a thread of this test, BottleCRM's contact endpoints reduced to what an update
touches) answers the first PATCH with 429 and ``Retry-After: 1``, and notes when each request
arrived. With the pool honouring the pause, only the requests already in flight reach the
server during that second; without it, the other workers would have finished all their updates
in it (each request is answered within milliseconds).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from einklang.connectors._http import RetryPolicy
from einklang.connectors.base import NativeRecord
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.connectors.bottlecrm.connector import RecordUpdate

CONCURRENCY = 4
RETRY_AFTER = 1.0


class FakeBottleCrm(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.versions: dict[str, int] = {}
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, method)
        self.paused_at: float | None = None  # when the 429 was answered


class Handler(BaseHTTPRequestHandler):
    server: FakeBottleCrm

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _native_id(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def do_GET(self) -> None:
        native_id = self._native_id()
        with self.server.lock:
            self.server.arrivals.append((time.monotonic(), "GET"))
            version = self.server.versions.setdefault(native_id, 1)
        contact = {"id": native_id, "first_name": "E", "last_name": "M", "updated_at": f"v{version}"}
        self._answer(200, {"contact_obj": contact})

    def do_PATCH(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        native_id = self._native_id()
        with self.server.lock:
            self.server.arrivals.append((time.monotonic(), "PATCH"))
            first = self.server.paused_at is None
            if first:
                self.server.paused_at = time.monotonic()
            else:
                self.server.versions[native_id] = self.server.versions.get(native_id, 1) + 1
        if first:
            self._answer(429, {"detail": "slow down"}, {"Retry-After": f"{RETRY_AFTER:g}"})
        else:
            self._answer(200, {"error": False})


@pytest.fixture
def server() -> Iterator[FakeBottleCrm]:
    fake = FakeBottleCrm()
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()


def test_a_429_pauses_every_request_in_flight_for_retry_after(server: FakeBottleCrm) -> None:
    host, port = server.server_address[:2]
    crm = BottleCrmConnector(
        "crm",
        {"url": f"http://{host!s}:{port}", "token": "t", "concurrency": CONCURRENCY},
        {"person": {"resource": "contact"}},
        retry_policy=RetryPolicy(attempts=3, initial_wait=0.1, max_wait=30),
    )
    ids = [str(n) for n in range(1, 25)]
    outcomes = list(crm.update_many("person", [RecordUpdate(i, {"city": "Bonn"}, "v1") for i in ids]))
    crm.close()

    assert all(isinstance(o, NativeRecord) and o.version == "v2" for o in outcomes)  # each written once
    assert crm.gate.pauses == 1 and server.paused_at is not None
    paused_at = server.paused_at
    during = [method for at, method in server.arrivals if paused_at < at < paused_at + RETRY_AFTER]
    after = [method for at, method in server.arrivals if at >= paused_at + RETRY_AFTER]
    # Only what the other workers had sent before the 429 reached the pool arrives in the pause
    # (one request each, two if the pool's thread was slow to read the 429); the rest, about
    # 70 requests, waits for it to end.
    assert len(during) <= 2 * (CONCURRENCY - 1)
    assert len(after) >= 3 * len(ids) - 3 * CONCURRENCY
    assert "PATCH" in after  # the refused PATCH itself was sent again after Retry-After

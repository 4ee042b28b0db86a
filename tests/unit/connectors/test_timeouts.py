"""Connect and read timeouts against a real server that accepts but never answers (finding 16).

Before: ``einklang check`` against such a server gave up after 169 s (a 30 s read timeout, tried
five times with backoff). Now one call waits ``timeout`` seconds (10 by default), configurable per
system, and a timed-out request is not retried by the connector.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from einklang.connectors.base import SystemUnavailable
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.connectors.carddav import CardDavConnector
from einklang.connectors.sql import SqlConnector
from einklang.connectors.tryton import TrytonConnector


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP server that accepts every connection and then says nothing."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()


def _gives_up_within(seconds: float, check: object) -> float:
    started = time.monotonic()
    with pytest.raises(SystemUnavailable):
        check()  # type: ignore[operator]
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"gave up after {elapsed:.1f}s"
    return elapsed


def test_http_check_gives_up_after_the_default_ten_seconds(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    with BottleCrmConnector("crm", {"url": url, "token": "t"}, {"account": {}}) as crm:
        assert crm.settings.timeout == 10.0
        elapsed = _gives_up_within(20, crm.check)
    assert elapsed >= 9  # it did wait for the answer, once


@pytest.mark.parametrize("connector", ["bottlecrm", "tryton", "carddav"])
def test_http_timeout_is_configurable_per_system(silent_port: int, connector: str) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    if connector == "bottlecrm":
        system = BottleCrmConnector("crm", {"url": url, "token": "t", "timeout": 1}, {"account": {}})
    elif connector == "tryton":
        system = TrytonConnector(
            "erp", {"url": url, "database": "d", "user": "u", "password": "p", "timeout": 1}, {"party": {}}
        )
    else:
        system = CardDavConnector("book", {"url": url + "/book/", "timeout": 1}, {"contact": {}})
    with system:
        _gives_up_within(5, system.check)


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_sql_connect_timeout(silent_port: int, scheme: str) -> None:
    url = f"{scheme}://user:secret@127.0.0.1:{silent_port}/db"
    with SqlConnector("erp", {"url": url, "timeout": 1}, {"company": {"table": "t", "id": "id"}}) as erp:
        _gives_up_within(6, erp.check)

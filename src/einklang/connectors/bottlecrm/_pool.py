"""Several BottleCRM requests in flight at once, and one pause for all of them after a 429.

BottleCRM answers one request in tens of milliseconds, most of it spent waiting (its database,
the network, einklang's own work between requests). A bounded pool of worker threads sharing
one httpx client keeps ``concurrency`` requests in flight, so the waits overlap.

Each request still goes through :func:`einklang.connectors._http.send_with_retry` (its retries,
its rule that a create is only repeated when the server cannot have acted on it). On top of
that, :class:`RequestGate` makes a 429 stop the whole pool, not just the request that got it:
the workers would otherwise keep sending until each had its own 429.

When the system becomes unavailable (``SystemUnavailable``) the pool starts no further item:
those not yet sent are answered with the same error, so the engine keeps them for later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx

from einklang.connectors._http import retry_after_seconds
from einklang.connectors.base import ConnectorError, SystemUnavailable

Item = TypeVar("Item")
Result = TypeVar("Result")


class RequestGate:
    """Holds every request of a client back until a server-requested pause has passed.

    Installed as httpx event hooks: ``before_request`` waits, ``after_response`` starts a pause
    when the answer is a 429 (``Retry-After`` seconds, capped at ``max_wait``; ``default_wait``
    when the server names none).
    """

    def __init__(
        self,
        *,
        max_wait: float,
        default_wait: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_wait = max_wait
        self.default_wait = default_wait
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._closed_until = 0.0
        # The thread that got the 429 waits in its own retry (send_with_retry); the gate holds
        # back the others.
        self._paused_by: int | None = None
        self.pauses = 0  # how many 429s paused the pool (for tests and the bench)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._closed_until = max(self._closed_until, self._clock() + min(seconds, self.max_wait))
            self._paused_by = threading.get_ident()
            self.pauses += 1

    def wait(self) -> None:
        while True:
            with self._lock:
                remaining = self._closed_until - self._clock()
                own_pause = self._paused_by == threading.get_ident()
            if remaining <= 0 or own_pause:
                return
            self._sleep(remaining)

    def before_request(self, _request: httpx.Request) -> None:
        self.wait()

    def after_response(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            asked = retry_after_seconds(response)
            self.pause(asked if asked is not None else self.default_wait)

    def install(self, client: httpx.Client) -> None:
        hooks = client.event_hooks
        client.event_hooks = {
            "request": [*hooks.get("request", []), self.before_request],
            "response": [*hooks.get("response", []), self.after_response],
        }


class RequestPool:
    """Runs a function over items with at most ``concurrency`` of them at a time."""

    def __init__(self, concurrency: int, *, system: str) -> None:
        self.concurrency = concurrency
        self.system = system
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def map(self, work: Callable[[Item], Result], items: Sequence[Item]) -> list[Result | ConnectorError]:
        """``work(item)`` for each item, results in the items' order.

        A ``ConnectorError`` raised for one item is that item's result; any other exception is
        a bug and propagates. After a ``SystemUnavailable`` the items not yet started are not
        sent and get a ``SystemUnavailable`` of their own.
        """
        if not items:
            return []
        down: list[SystemUnavailable] = []

        def run(item: Item) -> Result | ConnectorError:
            if down:
                return SystemUnavailable(f"not sent: {down[0].args[0]}", system=self.system)
            try:
                return work(item)
            except SystemUnavailable as unavailable:
                down.append(unavailable)
                return unavailable
            except ConnectorError as failed:
                return failed

        if self.concurrency == 1 or len(items) == 1:
            return [run(item) for item in items]
        return list(self._pool().map(run, items))

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix=f"einklang-{self.system}"
                )
            return self._executor

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

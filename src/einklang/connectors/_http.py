"""HTTP plumbing shared by the connectors that talk to web APIs (Tryton, BottleCRM, CardDAV).

One place decides what is worth retrying: connection failures, timeouts, HTTP 429 (honouring
``Retry-After``) and the 502/503/504 family. Everything else is the caller's business.

Retrying a request that may already have been applied is how duplicates are born (invariant I2),
so requests that are not idempotent (POST that creates) are only retried when the server cannot
have acted on them: the connection was never made, or the server said 429/503 before doing work.

A request that times out is not retried here: ``timeout`` (10 s by default) is the longest one
call waits for a server that does not answer, so ``einklang check`` against a dead host gives up
after about that long. The sync engine's own retries and circuit breaker decide when to try again.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from einklang.connectors.base import NativeRecord, RecordRejected, SystemUnavailable
from einklang.connectors.settings import ConnectorSettings, Flag, Name, NonNegativeNumber, PositiveInt, PositiveNumber

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
# Statuses that promise the request was not processed, so even a create may be repeated.
NOT_PROCESSED_STATUS = frozenset({429, 503})


class HttpSettings(ConnectorSettings):
    """The settings every connector over HTTP shares; connectors add their own to a subclass."""

    url: Name
    timeout: PositiveNumber = 10.0  # seconds to connect, and to wait for each answer; not retried
    verify_tls: Flag = True
    retry_attempts: PositiveInt = 5
    retry_initial_wait: NonNegativeNumber = 0.5
    retry_max_wait: NonNegativeNumber = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    # Injectable so unit tests of the retry logic do not actually wait.
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    @classmethod
    def from_settings(cls, settings: HttpSettings) -> RetryPolicy:
        return cls(
            attempts=settings.retry_attempts,
            initial_wait=settings.retry_initial_wait,
            max_wait=settings.retry_max_wait,
        )


class _RetryableResponse(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` as delta-seconds or HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _wait_strategy(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _RetryableResponse):
            asked = retry_after_seconds(failure.response)
            if asked is not None:
                # The server knows its limits better than our backoff curve does; the cap
                # keeps a misconfigured server from parking a sync cycle for hours.
                return min(asked, policy.max_wait)
        backoff = policy.initial_wait * (2 ** (state.attempt_number - 1))
        return float(min(backoff, policy.max_wait))

    return wait


def send_with_retry(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    system: str,
    policy: RetryPolicy,
    idempotent: bool = True,
    **request_args: Any,
) -> httpx.Response:
    """Send one request, retrying transient failures; raise SystemUnavailable when they persist.

    Returns any response that is not retryable (including 4xx) for the caller to interpret.
    """
    retryable_errors: tuple[type[BaseException], ...]
    if idempotent:
        retryable_errors = (httpx.TransportError, _RetryableResponse)
    else:
        retryable_errors = (httpx.ConnectError, _RetryableResponse)

    def worth_retrying(error: BaseException) -> bool:
        # A timeout already cost ``timeout`` seconds: waiting that long again and again is how a
        # silent server kept ``check`` busy for minutes.
        return isinstance(error, retryable_errors) and not isinstance(error, httpx.TimeoutException)

    retry_statuses = RETRYABLE_STATUS if idempotent else NOT_PROCESSED_STATUS

    def attempt() -> httpx.Response:
        response = client.request(method, url, **request_args)
        if response.status_code in retry_statuses:
            response.read()
            raise _RetryableResponse(response)
        return response

    retrying = Retrying(
        retry=retry_if_exception(worth_retrying),
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=_wait_strategy(policy),
        sleep=policy.sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except _RetryableResponse as exhausted:
        status = exhausted.response.status_code
        raise SystemUnavailable(
            f"{method} {url}: HTTP {status} after {policy.attempts} attempts", system=system
        ) from exhausted
    except httpx.TransportError as unreachable:
        raise SystemUnavailable(
            f"{method} {url}: {type(unreachable).__name__}: {unreachable}", system=system
        ) from unreachable


def make_client(
    settings: HttpSettings,
    *,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client configured from the common settings ``timeout`` and ``verify_tls``."""
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers or {}),
        auth=auth,
        timeout=httpx.Timeout(settings.timeout),
        verify=settings.verify_tls,
        transport=transport,
        follow_redirects=False,
    )


def create_all_or_none(
    records: Sequence[Mapping[str, Any]],
    create_one: Callable[[Mapping[str, Any]], NativeRecord],
    delete_one: Callable[[NativeRecord], None],
    *,
    system: str,
) -> list[NativeRecord]:
    """Create records one by one, as a batch that succeeds or leaves nothing behind.

    For APIs without batch transactions (REST, WebDAV). The sync engine treats a rejected
    batch as "nothing was created" and sends its records again one by one to find the bad
    one; records left over from the batch would then exist twice (invariant I2). So the
    creates of this call are undone before the rejection is reported.
    """
    created: list[NativeRecord] = []
    for index, fields in enumerate(records):
        try:
            created.append(create_one(fields))
        except RecordRejected as rejected:
            if not created:
                raise
            # If undoing fails (system gone), that error propagates instead of the rejection:
            # the batch is then retried as a whole later, and the leftovers are the only risk.
            for record in reversed(created):
                delete_one(record)
            raise RecordRejected(
                f"record #{index} of the batch: {rejected.args[0]} "
                f"(the {len(created)} record(s) created before it were deleted again)",
                system=system,
            ) from rejected
    return created

"""Retries with exponential backoff behind a circuit breaker, per system.

A call that raises ``SystemUnavailable`` is retried a few times (tenacity). When the retries
are used up the system counts one failure and its circuit opens for a cooldown that doubles
with every further failure; while it is open the engine does not call the system at all, so a
dead system costs nothing and never stalls the others. The state is kept in the state store
so that separate ``einklang sync --once`` runs honour it as well.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from einklang.connectors.base import SystemUnavailable
from einklang.store.health import load_health, save_health
from einklang.store.rows import Health
from einklang.store.state import StateStore, utcnow

T = TypeVar("T")


class SystemDown(Exception):
    """The system stays unavailable after the retries; skip it for the rest of the cycle."""

    def __init__(self, system: str, reason: str) -> None:
        super().__init__(f"{system} is unavailable: {reason}")
        self.system = system
        self.reason = reason


@dataclass(frozen=True)
class RetrySettings:
    attempts: int = 3
    initial_wait: float = 0.2  # seconds; doubles per attempt
    max_wait: float = 2.0
    cooldown: float = 5.0  # seconds the circuit stays open after the first failure; doubles
    max_cooldown: float = 300.0


class CircuitBreakers:
    def __init__(self, store: StateStore, settings: RetrySettings, sleep: Callable[[float], None] | None = None):
        self.store = store
        self.settings = settings
        self._sleep = sleep
        with store.read() as conn:
            self.health = load_health(conn)
        self.down_now: dict[str, str] = {}  # systems given up on in this cycle

    def new_cycle(self) -> None:
        self.down_now.clear()

    def allows(self, system: str) -> bool:
        if system in self.down_now:
            return False
        health = self.health.get(system)
        return health is None or health.open_until is None or health.open_until <= utcnow()

    def state(self, system: str) -> str:
        health = self.health.get(system)
        if system in self.down_now or (health and health.open_until and health.open_until > utcnow()):
            return "open"
        return "closed" if not health or not health.failures else "half-open"

    def call(self, system: str, action: Callable[[], T], idempotent: bool = True) -> T:
        """Run ``action`` against ``system``, retried while it is unavailable.

        An action that is not ``idempotent`` (a create) is tried once: an outage reported after
        the system did the work (a lost reply) must not make it do the work twice. Its outbox
        entry stays pending, and the next attempt first looks for what the first one created.
        """
        if not self.allows(system):
            raise SystemDown(system, self.down_now.get(system) or "circuit open")
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.attempts if idempotent else 1),
            wait=wait_exponential(multiplier=self.settings.initial_wait, max=self.settings.max_wait),
            retry=retry_if_exception_type(SystemUnavailable),
            reraise=True,
        )
        if self._sleep is not None:
            retrying.sleep = self._sleep  # tests skip the real waiting
        try:
            result = retrying(action)
        except SystemUnavailable as exc:
            self._failed(system, str(exc))
            raise SystemDown(system, str(exc)) from exc
        self._succeeded(system)
        return result

    def _failed(self, system: str, error: str) -> None:
        health = self.health.setdefault(system, Health())
        health.failures += 1
        cooldown = min(self.settings.cooldown * 2 ** (health.failures - 1), self.settings.max_cooldown)
        health.open_until = utcnow() + dt.timedelta(seconds=cooldown)
        health.last_error = error
        self.down_now[system] = error
        with self.store.transaction() as conn:
            save_health(conn, system, health)

    def _succeeded(self, system: str) -> None:
        health = self.health.get(system)
        if health is None or (health.failures == 0 and health.open_until is None):
            return  # the usual case: nothing to write, a quiet cycle stays cheap
        self.health[system] = Health()
        with self.store.transaction() as conn:
            save_health(conn, system, self.health[system])

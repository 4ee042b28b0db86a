"""Who is asking, and may they: sessions, API tokens, a trusted proxy header, CSRF and sign-in limits.

Every page and API call needs a signed-in user (the health and metrics endpoints of
``einklang serve`` are not part of this app). A request is signed in by one of:

* the session cookie (HttpOnly, SameSite=Lax; Secure over https or when configured), set at
  sign-in; forms carry the session's CSRF token (field ``csrf``; htmx and API calls send it
  as the ``X-CSRF-Token`` header) and a POST without the right one is refused;
* ``Authorization: Bearer TOKEN`` (``einklang users token``): for scripts; no cookie is
  involved, so no CSRF token is needed;
* only when configured (:class:`WebSettings.proxy_user_header`): the user name a reverse proxy
  puts in a header after it authenticated the person. The user must exist in einklang (their
  role comes from there); a session is opened for them so that forms get a CSRF token.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from einklang.web.accounts import User

SESSION_COOKIE = "einklang_session"
LANGUAGE_COOKIE = "einklang_lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class WebSettings:
    """How the web app trusts its surroundings (``EINKLANG_WEB_*`` environment variables)."""

    secure_cookies: str = "auto"
    """``auto``: Secure when the request came over https (as the server sees it); ``always``; ``never``."""
    proxy_user_header: str | None = None
    """A header holding the user name a reverse proxy authenticated; None: not trusted (default)."""
    proxy_addresses: tuple[str, ...] = ("127.0.0.1", "::1")
    """The proxy header is believed only on connections from these addresses."""
    login_attempts: int = 5
    """Failed sign-ins allowed per user name and address within :attr:`login_window` seconds."""
    login_window: float = 15 * 60

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        env = os.environ if environ is None else environ
        secure = env.get("EINKLANG_WEB_SECURE_COOKIES", "auto").strip().lower() or "auto"
        if secure not in ("auto", "always", "never"):
            raise ValueError(f"EINKLANG_WEB_SECURE_COOKIES={secure!r}: use auto, always or never")
        header = env.get("EINKLANG_WEB_PROXY_USER_HEADER", "").strip() or None
        addresses = tuple(
            a.strip() for a in env.get("EINKLANG_WEB_PROXY_ADDRESSES", "127.0.0.1,::1").split(",") if a.strip()
        )
        return cls(secure, header, addresses)


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request and how they signed in."""

    user: User
    via: str  # session, token, proxy
    csrf: str | None = None  # the session's CSRF token (None for API tokens)
    session_id: str | None = None

    @property
    def name(self) -> str:
        return self.user.name

    def may(self, role: str) -> bool:
        return self.user.may(role)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


@dataclass
class LoginLimiter:
    """Failed sign-ins per (user name, address): after ``attempts`` within ``window`` seconds the
    next ones are refused until the oldest failure leaves the window. Kept in memory: a restart
    forgets them, which a person trying passwords gains nothing from (argon2 makes each try slow)."""

    attempts: int = 5
    window: float = 15 * 60
    clock: object = field(default=time.monotonic)
    _failures: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        clock = self.clock
        assert callable(clock)
        return float(clock())

    def _recent(self, key: tuple[str, str]) -> list[float]:
        cutoff = self._now() - self.window
        recent = [ts for ts in self._failures.get(key, []) if ts > cutoff]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def blocked_for(self, name: str, address: str) -> float:
        """Seconds until the next try is allowed (0: allowed now)."""
        with self._lock:
            recent = self._recent((name.lower(), address))
            if len(recent) < self.attempts:
                return 0.0
            return max(0.0, recent[0] + self.window - self._now())

    def failed(self, name: str, address: str) -> None:
        with self._lock:
            key = (name.lower(), address)
            self._recent(key)
            self._failures.setdefault(key, []).append(self._now())

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.lower(), address), None)

"""Tryton's JSON-RPC: the wire format, a logged-in session, and which errors mean what."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from einklang.connectors._http import (
    RetryPolicy,
    make_client,
    send_with_retry,
)
from einklang.connectors.base import (
    ConfigurationError,
    ConnectorError,
    InvalidSettings,
    RecordRejected,
    StaleVersion,
    SystemUnavailable,
)
from einklang.connectors.settings import SettingsRefused, validate_settings
from einklang.connectors.tryton.options import TrytonSettings

_REJECTION_ERRORS = frozenset(
    {
        "UserError",
        "UserWarning",
        "ValidationError",
        "DomainValidationError",
        "RequiredValidationError",
        "SizeValidationError",
        "DigitsValidationError",
        "ForbiddenCharValidationError",
        "SelectionValidationError",
        "TimeFormatValidationError",
        "SQLConstraintError",
        "AccessError",
    }
)
# Methods that change nothing may be repeated freely after a lost answer; the others may not.
_READ_ONLY_SUFFIXES = (
    ".read",
    ".search",
    ".search_read",
    ".search_count",
    ".fields_get",
    ".get_preferences",
    "common.server.version",
    "common.db.login",
)


class TrytonError(ConnectorError):
    """An error answer from Tryton that fits no more specific connector error."""

    def __init__(self, error_type: str, message: str, *, system: str = "") -> None:
        super().__init__(f"{error_type}: {message}", system=system)
        self.error_type = error_type


# --- wire format ----------------------------------------------------------------------------


def decode_wire(value: Any) -> Any:
    """Tryton's JSON extensions -> Python (datetimes, dates, decimals as strings)."""
    if isinstance(value, dict):
        kind = value.get("__class__")
        if kind == "datetime":
            return datetime(
                value["year"],
                value["month"],
                value["day"],
                value["hour"],
                value["minute"],
                value["second"],
                value.get("microsecond", 0),
            )
        if kind == "date":
            return f"{value['year']:04d}-{value['month']:02d}-{value['day']:02d}"
        if kind == "Decimal":
            return value["decimal"]
        if kind == "bytes":
            return base64.b64decode(value["base64"])
        return {key: decode_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_wire(item) for item in value]
    return value


def encode_datetime(moment: datetime) -> dict[str, Any]:
    return {
        "__class__": "datetime",
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "hour": moment.hour,
        "minute": moment.minute,
        "second": moment.second,
        "microsecond": moment.microsecond,
    }


def _error_message(details: Any) -> str:
    if isinstance(details, list | tuple) and details:
        parts = [str(part) for part in details[:2] if part]
        return " ".join(parts) if parts else str(details)
    return str(details)


# --- session ----------------------------------------------------------------------------------


class TrytonSession:
    """A logged-in JSON-RPC session; logs in again once when the server forgot the session."""

    def __init__(
        self,
        system: str,
        settings: TrytonSettings | Mapping[str, Any],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.system = system
        if not isinstance(settings, TrytonSettings):
            try:
                settings = validate_settings(TrytonSettings, settings, what="setting")
            except SettingsRefused as refused:
                raise InvalidSettings(refused, system=system) from None
        base = settings.url.rstrip("/")
        self.database = settings.database
        self.user = settings.user
        self._password = settings.password
        self.language = settings.language
        self.rpc_url = f"{base}/{self.database}/rpc/"
        self.server_rpc_url = f"{base}/rpc/"  # methods outside any database (server version)
        self.policy = RetryPolicy.from_settings(settings)
        self.client = make_client(settings, transport=transport)
        self.context: dict[str, Any] = {}
        self._authorization: str | None = None
        self._request_ids = itertools.count(1)

    def close(self) -> None:
        self.client.close()

    def login(self) -> None:
        password = self._password.get_secret_value()
        user_id, session, *_ = self._post("common.db.login", [self.user, {"password": password}, self.language])
        token = base64.b64encode(f"{self.user}:{user_id}:{session}".encode()).decode()
        self._authorization = f"Session {token}"
        preferences = self._post("model.res.user.get_preferences", [True, {}])
        # Only the keys the server uses for behaviour; the locale table is display-only noise.
        self.context = {
            key: value
            for key, value in preferences.items()
            if key in {"language", "company", "companies", "employee", "employees"}
        }

    def company(self) -> int | None:
        """The user's current company (logging in first: the context comes with the login)."""
        if self._authorization is None:
            self.login()
        company = self.context.get("company")
        return int(company) if company else None

    def call(self, method: str, params: list[Any]) -> Any:
        if self._authorization is None:
            self.login()
        try:
            return self._post(method, params)
        except _SessionExpired:
            self.login()
            return self._post(method, params)

    def model(self, model: str, method: str, *args: Any, context: Mapping[str, Any] | None = None) -> Any:
        """``model.<model>.<method>(*args, context)`` with the session context merged in."""
        merged = {**self.context, **(context or {})}
        return self.call(f"model.{model}.{method}", [*args, merged])

    def server_version(self) -> str:
        return str(self._post("common.server.version", [], url=self.server_rpc_url))

    def _post(self, method: str, params: list[Any], *, url: str | None = None) -> Any:
        idempotent = method.endswith(_READ_ONLY_SUFFIXES)
        headers = {"Authorization": self._authorization} if self._authorization else {}
        response = send_with_retry(
            self.client,
            "POST",
            url or self.rpc_url,
            system=self.system,
            policy=self.policy,
            idempotent=idempotent,
            headers=headers,
            json={"id": next(self._request_ids), "method": method, "params": params},
        )
        if response.status_code in (401, 403) and method == "common.db.login":
            raise ConfigurationError(
                f"login to database {self.database!r} as {self.user!r} refused (HTTP {response.status_code})",
                system=self.system,
            )
        if response.status_code in (401, 403) and self._authorization:
            raise _SessionExpired
        if response.status_code >= 500:
            raise SystemUnavailable(f"{method}: HTTP {response.status_code}", system=self.system)
        if response.status_code != 200:
            raise TrytonError(
                "HTTP", f"{method}: HTTP {response.status_code} {response.text[:200]}", system=self.system
            )
        answer = response.json()
        if answer.get("error"):
            self._raise_error(method, answer["error"])
        return decode_wire(answer.get("result"))

    def _raise_error(self, method: str, error: Any) -> None:
        error_type = str(error[0]) if isinstance(error, list) and error else str(error)
        details = error[1] if isinstance(error, list) and len(error) > 1 else ""
        message = _error_message(details)
        if error_type == "ConcurrencyException":
            raise StaleVersion(f"{method}: {message}", system=self.system)
        if error_type in _REJECTION_ERRORS:
            raise RecordRejected(f"{method}: {error_type}: {message}", system=self.system)
        if error_type in ("NotLogged", "403", "401"):
            raise _SessionExpired
        if method == "common.db.login":
            raise ConfigurationError(
                f"login to database {self.database!r} as {self.user!r} failed: {error_type} {message}"
                " (is the database listed in TRYTOND_DATABASE_NAMES?)",
                system=self.system,
            )
        raise TrytonError(error_type, f"{method}: {message}", system=self.system)


class _SessionExpired(Exception):
    pass

"""BottleCRM's REST API as the connector uses it: requests and their errors, lists, details, the
activity feed, several requests at a time.

Every request goes through :func:`send_with_retry` and one answer-to-error mapping (401/403 a
configuration error, 404 ``RecordNotFound``, 400 ``RecordRejected`` with BottleCRM's messages,
5xx ``SystemUnavailable``). Details are fetched through the :class:`RequestPool`, so reading the
records a change feed names costs about one round trip per ``concurrency`` records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from einklang.connectors._http import RetryPolicy, send_with_retry
from einklang.connectors.base import (
    ConfigurationError,
    ConnectorError,
    NativeRecord,
    RecordNotFound,
    RecordRejected,
    SystemUnavailable,
)
from einklang.connectors.bottlecrm._pool import RequestPool
from einklang.connectors.bottlecrm._resources import ACCOUNT, Resource
from einklang.normalize.phone import read_din5008_extension

# /api/activities/ answers at most this many rows, newest first, and has no offset.
ACTIVITY_LIMIT = 50
# Open and closed accounts are two lists in one answer, paged together.
ACCOUNT_LISTS = (
    ("active_accounts", "open_accounts", "open_accounts_count"),
    ("closed_accounts", "close_accounts", "close_accounts_count"),
)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def content_version(fields: Mapping[str, Any]) -> str:
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "h:" + hashlib.sha256(encoded.encode()).hexdigest()[:24]


def native(resource: Resource, raw: Mapping[str, Any]) -> NativeRecord:
    # A field the answer does not carry (list and detail endpoints differ) is left out, not
    # taken for empty: einklang reads what is absent as unknown.
    fields = {name: raw[name] for name in resource.fields if name in raw}
    # Blank strings and nulls mean the same to BottleCRM users; one spelling keeps
    # einklang from seeing changes that are none.
    fields = {name: (None if value == "" else value) for name, value in fields.items()}
    if isinstance(fields.get("phone"), str):
        fields["phone"] = read_din5008_extension(fields["phone"])
    version = str(raw["updated_at"]) if resource.has_updated_at else content_version(fields)
    return NativeRecord(native_id=str(raw["id"]), version=version, fields=fields)


@dataclass(frozen=True)
class Activity:
    """One row of BottleCRM's activity feed: ``action`` (CREATE, UPDATE, DELETE ...) on a record."""

    activity_id: str
    action: str
    record_id: str
    at: datetime


@dataclass(frozen=True)
class ListPage:
    """One page of a list: its rows, the list's total count, and whether the page was full
    (then another may follow)."""

    rows: list[dict[str, Any]]
    count: int
    full: bool


@dataclass
class Scan:
    """Whether one pass over a whole list can be trusted (its count did not move meanwhile)."""

    consistent: bool = True
    expected_count: int | None = None


class ResourceEndpoint(Protocol):
    """A resource whose list and detail do not follow the common shape (e.g. the organisation's
    users), registered in :attr:`BottleCrmApi.endpoints` under the resource's name."""

    def pages(self, scan: Scan, limit: int) -> Iterator[list[dict[str, Any]]]: ...

    def get_one(self, native_id: str) -> NativeRecord: ...


class BottleCrmApi:
    def __init__(
        self, client: httpx.Client, *, system: str, policy: RetryPolicy, page_size: int, pool: RequestPool
    ) -> None:
        self.client = client
        self.system = system
        self.policy = policy
        self.page_size = page_size
        self.pool = pool
        self.endpoints: dict[str, ResourceEndpoint] = {}

    def request(
        self, method: str, path: str, *, record_id: str | None = None, idempotent: bool = True, **request_args: Any
    ) -> httpx.Response:
        response = send_with_retry(
            self.client, method, path, system=self.system, policy=self.policy, idempotent=idempotent, **request_args
        )
        if response.status_code in (401, 403):
            raise ConfigurationError(
                f"{method} {path}: HTTP {response.status_code} (token refused?) {response.text[:200]}",
                system=self.system,
            )
        if response.status_code == 404:
            raise RecordNotFound(f"{method} {path}: not found", system=self.system, record_id=record_id)
        if response.status_code == 400:
            raise RecordRejected(
                f"{method} {path}: {validation_message(response)}", system=self.system, record_id=record_id
            )
        if response.status_code >= 500:
            raise SystemUnavailable(f"{method} {path}: HTTP {response.status_code}", system=self.system)
        if response.status_code >= 300:
            raise ConnectorError(
                f"{method} {path}: HTTP {response.status_code} {response.text[:200]}",
                system=self.system,
                record_id=record_id,
            )
        return response

    # --- lists ------------------------------------------------------------------------------

    def list_page(self, resource: Resource, limit: int, offset: int, **filters: Any) -> ListPage:
        body = self.request("GET", resource.path, params={**filters, "limit": limit, "offset": offset}).json()
        if resource is ACCOUNT:
            lists = [body[outer][inner] for outer, inner, _ in ACCOUNT_LISTS]
            count = sum(int(body[outer][counter]) for outer, _, counter in ACCOUNT_LISTS)
            # each of the two lists is paged by the same limit and offset
            return ListPage([row for rows in lists for row in rows], count, any(len(rows) == limit for rows in lists))
        rows = list(body[resource.list_key])
        return ListPage(rows, int(body["count"]), len(rows) == limit)

    def list_pages(
        self, resource: Resource, scan: Scan, page_size: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Raw rows page by page; marks ``scan`` inconsistent if the list moved meanwhile."""
        limit = page_size or self.page_size
        if resource.name in self.endpoints:
            yield from self.endpoints[resource.name].pages(scan, limit)
            return
        offset = 0
        seen: set[str] = set()
        while True:
            page = self.list_page(resource, limit, offset)
            if scan.expected_count is None:
                scan.expected_count = page.count
            elif page.count != scan.expected_count:
                scan.consistent = False
            fresh = [row for row in page.rows if str(row["id"]) not in seen]
            if len(fresh) != len(page.rows):
                scan.consistent = False  # a row slid from one page into the next
            seen.update(str(row["id"]) for row in fresh)
            yield fresh
            if not page.full:
                break
            offset += limit
        if len(seen) != scan.expected_count:
            scan.consistent = False

    # --- details ----------------------------------------------------------------------------

    def get_one(self, resource: Resource, native_id: str) -> NativeRecord:
        if resource.name in self.endpoints:
            return self.endpoints[resource.name].get_one(native_id)
        body = self.request("GET", f"{resource.path}{native_id}/", record_id=native_id).json()
        return native(resource, body[resource.detail_key] if resource.detail_key else body)

    def get_many(self, resource: Resource, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        """The records that exist, fetched ``concurrency`` at a time; missing ids are left out."""
        found: dict[str, NativeRecord] = {}
        results = self.pool.map(lambda native_id: self.get_one(resource, native_id), native_ids)
        for native_id, result in zip(native_ids, results, strict=True):
            if isinstance(result, RecordNotFound):
                continue
            if isinstance(result, ConnectorError):
                raise result
            found[native_id] = result
        return found

    # --- the activity feed ------------------------------------------------------------------

    def activities(self, activity_type: str) -> list[Activity]:
        """The newest activities on records of ``activity_type`` (at most ``ACTIVITY_LIMIT``), newest first."""
        body = self.request(
            "GET", "/api/activities/", params={"entity_type": activity_type, "limit": ACTIVITY_LIMIT}
        ).json()
        return [
            Activity(str(row["id"]), str(row["action"]), str(row["entity_id"]), parse_time(str(row["timestamp"])))
            for row in body["activities"]
            if row.get("entity_type") == activity_type
        ]


def validation_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP 400 {response.text[:300]}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        return "; ".join(
            f"{field}: {' '.join(map(str, messages if isinstance(messages, list) else [messages]))}"
            for field, messages in errors.items()
        )
    return f"HTTP 400 {json.dumps(body)[:300]}"

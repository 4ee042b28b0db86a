"""BottleCRM (PyPI ``django-crm`` 1.35) over its REST API with a personal access token.

What the API offers and what follows from it (see docs/connectors/bottlecrm.md):

- Lists cannot be filtered by modification time, so every read of changes pages through the
  whole list. Contacts carry ``updated_at``; accounts do not show it at all, so an account's
  version is a hash of its fields and account changes are found by comparing those hashes
  (snapshot mode) with the ones einklang stored.
- Deletes are hard (404 afterwards): found by comparing the id set with the previous one.
- Lists are paged by offset in an order new records can disturb (``-id`` for accounts): a
  scan whose count moved while it ran is not trusted with deletions or with the cursor.
- Creates answer 200 with only the id; validation errors are 400 ``{"error": true, "errors":
  {field: [messages]}}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from einklang.connectors._http import (
    HttpSettings,
    RetryPolicy,
    create_all_or_none,
    make_client,
    send_with_retry,
)
from einklang.connectors._snapshots import changed_records, changed_since_snapshot, remembered, vanished
from einklang.connectors.base import (
    Capabilities,
    ChangeDetection,
    ChangePage,
    ConfigurationError,
    Connector,
    ConnectorError,
    JsonValue,
    NativeRecord,
    RecordNotFound,
    RecordRejected,
    SnapshotStore,
    StaleVersion,
    SystemUnavailable,
)
from einklang.connectors.bottlecrm import employees
from einklang.connectors.settings import ConnectorSettings, NonNegativeNumber, PositiveInt, Secret


@dataclass(frozen=True)
class Resource:
    """One BottleCRM list/detail endpoint and the flat fields einklang reads and writes."""

    name: str
    path: str
    detail_key: str
    fields: tuple[str, ...]
    required: tuple[str, ...]
    has_updated_at: bool
    list_key: str = "contact_obj_list"  # where a list page holds its rows (accounts: two lists)
    created_key: str = ""  # where a create's answer holds the new record ("" = at the top)
    update_method: str = "PATCH"  # products: a PUT that is partial (no PATCH route)
    null_fields: tuple[str, ...] = ("account",)  # sent as null when empty (others as "")


ACCOUNT = Resource(
    name="account",
    path="/api/accounts/",
    detail_key="account_obj",
    fields=(
        "name",
        "email",
        "phone",
        "website",
        "industry",
        "address_line",
        "city",
        "state",
        "postcode",
        "country",
        "description",
        "is_active",
        "assigned_to",  # the account manager: see employees.first_assigned
    ),
    required=("name",),
    has_updated_at=False,
)
CONTACT = Resource(
    name="contact",
    path="/api/contacts/",
    detail_key="contact_obj",
    fields=(
        "first_name",
        "last_name",
        "email",
        "phone",
        "organization",
        "title",
        "department",
        "address_line",
        "city",
        "state",
        "postcode",
        "country",
        "description",
        "do_not_call",
        "linkedin_url",
        "account",
        "is_active",
    ),
    required=("first_name", "last_name"),
    has_updated_at=True,
)
# The product catalogue (``invoices`` app). ``category`` is free text: a product group is held
# by its name (``ref_value: name``). Changing it needs an organisation administrator's token.
PRODUCT = Resource(
    name="product",
    path="/api/invoices/products/",
    detail_key="",
    fields=("name", "description", "sku", "price", "currency", "category", "is_active"),
    required=("name",),
    has_updated_at=True,
    list_key="results",
    created_key="product",
    update_method="PUT",
    # A SKU is unique per organisation, so "no SKU" must be null, not a second "".
    null_fields=("sku", "category", "price"),
)
# Users of the organisation (profiles): see employees.py for what the API allows.
EMPLOYEE = Resource(
    name="employee",
    path=employees.LIST_PATH,
    detail_key="",
    fields=employees.FIELDS,
    required=("email",),
    has_updated_at=False,
)
RESOURCES: dict[str, Resource] = {r.name: r for r in (ACCOUNT, CONTACT, PRODUCT, EMPLOYEE)}


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _format_time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _content_version(fields: Mapping[str, Any]) -> str:
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "h:" + hashlib.sha256(encoded.encode()).hexdigest()[:24]


@dataclass
class _Scan:
    """Whether one pass over a whole list can be trusted (its count did not move meanwhile)."""

    consistent: bool = True
    expected_count: int | None = None


class BottleCrmSettings(HttpSettings):
    token: Secret  # a personal access token
    page_size: PositiveInt = 100
    overlap_seconds: NonNegativeNumber = 2.0


class BottleCrmEntityOptions(ConnectorSettings):
    resource: Literal["account", "contact", "product", "employee"] | None = None  # default: the entity name


class BottleCrmConnector(Connector):
    """Settings: url, token, [page_size, overlap_seconds, timeout, verify_tls, retry_*].

    Entity options: ``resource`` (``account``, ``contact``, ``product`` or ``employee``; default: the entity name).
    """

    settings_model = BottleCrmSettings
    entity_settings_model = BottleCrmEntityOptions
    settings: BottleCrmSettings
    entity_settings: Mapping[str, BottleCrmEntityOptions]

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any] | BaseModel,
        entities: Mapping[str, Mapping[str, Any] | BaseModel],
        *,
        transport: httpx.BaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(system, settings, entities)
        self.page_size = self.settings.page_size
        self.overlap = timedelta(seconds=self.settings.overlap_seconds)
        self.policy = retry_policy or RetryPolicy.from_settings(self.settings)
        token = self.settings.token.get_secret_value()
        self.client = make_client(
            self.settings,
            base_url=self.settings.url.rstrip("/"),
            transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        self.resources: dict[str, Resource] = {}
        for entity, options in self.entity_settings.items():
            resource_name = options.resource or entity
            if resource_name not in RESOURCES:
                raise ConfigurationError(
                    f"entity {entity!r}: unknown BottleCRM resource {resource_name!r} "
                    f"(known: {', '.join(sorted(RESOURCES))})",
                    system=system,
                )
            self.resources[entity] = RESOURCES[resource_name]
        self.employees = employees.EmployeeEndpoint(self, EMPLOYEE)

    def close(self) -> None:
        self.client.close()

    def _resource(self, entity: str) -> Resource:
        try:
            return self.resources[entity]
        except KeyError:
            raise ConfigurationError(f"entity {entity!r} is not configured", system=self.system) from None

    def native_fields(self, entity: str) -> set[str]:
        """The fields einklang reads from and writes to the entity's endpoint."""
        return set(self._resource(entity).fields)

    def capabilities(self, entity: str) -> Capabilities:
        resource = self._resource(entity)
        detection = ChangeDetection.TIMESTAMP if resource.has_updated_at else ChangeDetection.SNAPSHOT
        return Capabilities(change_detection=detection, reports_deletions=True, conditional_writes=True, batch_size=50)

    # --- HTTP -----------------------------------------------------------------------------

    def _request(
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
                f"{method} {path}: {_validation_message(response)}", system=self.system, record_id=record_id
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

    def check(self) -> str:
        for entity, resource in self.resources.items():
            try:
                self._request("GET", resource.path, params={"limit": 1, "offset": 0})
            except RecordNotFound as missing:
                raise ConfigurationError(
                    f"entity {entity!r}: {resource.path} not found", system=self.system
                ) from missing
        return f"BottleCRM at {self.client.base_url}, entities {', '.join(self.resources)}"

    # --- reading --------------------------------------------------------------------------

    def _native(self, resource: Resource, raw: Mapping[str, Any]) -> NativeRecord:
        # A field the answer does not carry (list and detail endpoints differ) is left out, not
        # taken for empty: einklang reads what is absent as unknown.
        fields = {name: raw[name] for name in resource.fields if name in raw}
        if "assigned_to" in fields:
            fields["assigned_to"] = employees.first_assigned(fields["assigned_to"])
        # Blank strings and nulls mean the same to BottleCRM users; one spelling keeps
        # einklang from seeing changes that are none.
        fields = {name: (None if value == "" else value) for name, value in fields.items()}
        version = str(raw["updated_at"]) if resource.has_updated_at else _content_version(fields)
        return NativeRecord(native_id=str(raw["id"]), version=version, fields=fields)

    def _list_pages(
        self,
        resource: Resource,
        scan: _Scan,
        page_size: int | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Raw rows page by page; marks ``scan`` inconsistent if the list moved meanwhile."""
        if resource is EMPLOYEE:
            yield from self.employees.pages(scan, page_size or self.page_size)
            return
        # Open and closed accounts are two lists in one answer, paged together.
        list_keys = (
            ("active_accounts", "open_accounts", "open_accounts_count"),
            ("closed_accounts", "close_accounts", "close_accounts_count"),
        )
        limit = page_size or self.page_size
        offset = 0
        seen: set[str] = set()
        while True:
            body = self._request("GET", resource.path, params={"limit": limit, "offset": offset}).json()
            if resource is ACCOUNT:
                rows = [row for outer, inner, _ in list_keys for row in body[outer][inner]]
                count = sum(int(body[outer][counter]) for outer, _, counter in list_keys)
                more = any(len(body[outer][inner]) == limit for outer, inner, _ in list_keys)
            else:
                rows = list(body[resource.list_key])
                count = int(body["count"])
                more = len(rows) == limit
            if scan.expected_count is None:
                scan.expected_count = count
            elif count != scan.expected_count:
                scan.consistent = False
            fresh = [row for row in rows if str(row["id"]) not in seen]
            if len(fresh) != len(rows):
                scan.consistent = False  # a row slid from one page into the next
            seen.update(str(row["id"]) for row in fresh)
            yield fresh
            if not more:
                break
            offset += limit
        if len(seen) != scan.expected_count:
            scan.consistent = False

    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        resource = self._resource(entity)
        for rows in self._list_pages(resource, _Scan(), page_size):
            # An account page holds open and closed accounts: up to twice the page size.
            for start in range(0, len(rows), page_size):
                yield [self._native(resource, row) for row in rows[start : start + page_size]]

    def _get_one(self, resource: Resource, native_id: str) -> NativeRecord:
        if resource is EMPLOYEE:
            return self.employees.get_one(native_id)
        body = self._request("GET", f"{resource.path}{native_id}/", record_id=native_id).json()
        return self._native(resource, body[resource.detail_key] if resource.detail_key else body)

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        resource = self._resource(entity)
        found: dict[str, NativeRecord] = {}
        for native_id in native_ids:
            try:
                found[native_id] = self._get_one(resource, native_id)
            except RecordNotFound:
                continue
        return found

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        resource = self._resource(entity)
        if resource is EMPLOYEE:
            return self.employees.find(criteria, limit)
        params: dict[str, Any] = {}
        # The list filters are "contains"; they only narrow the scan, equality is checked here.
        for name in ("name", "email", "city"):
            if resource is ACCOUNT and criteria.get(name):
                params[name] = criteria[name]
        if resource is CONTACT:
            probe = criteria.get("email") or criteria.get("last_name") or criteria.get("first_name")
            if probe:
                params["search"] = probe
        if resource is PRODUCT:
            probe = criteria.get("sku") or criteria.get("name") or criteria.get("description")
            if probe:
                params["search"] = probe
        found: list[NativeRecord] = []
        offset = 0
        while len(found) < limit:
            body = self._request(
                "GET", resource.path, params={**params, "limit": self.page_size, "offset": offset}
            ).json()
            if resource is ACCOUNT:
                rows = body["active_accounts"]["open_accounts"] + body["closed_accounts"]["close_accounts"]
            else:
                rows = body[resource.list_key]
            for row in rows:
                record = self._native(resource, row)
                if all(record.fields.get(name) == value for name, value in criteria.items()):
                    found.append(record)
            if len(rows) < self.page_size:
                break
            offset += self.page_size
        return found[:limit]

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        resource = self._resource(entity)
        previous = cursor if isinstance(cursor, Mapping) else {}
        since = _parse_time(previous["updated_since"]) if previous.get("updated_since") else None
        known_ids: set[str] = set(previous.get("ids", []))
        if snapshots is not None and not resource.has_updated_at:
            known_ids |= set(snapshots.known_ids())
        recent: dict[str, str] = dict(previous.get("recent", {}))
        newest = since
        live_ids: set[str] = set()
        loaded_recent: dict[str, str] = {}
        scan = _Scan()
        # Until the final page, a crash must make the next read start from the old cursor.
        old_cursor = dict(previous) if previous else None
        for rows in self._list_pages(resource, scan):
            records = [self._native(resource, row) for row in rows]
            live_ids.update(record.native_id for record in records)
            if resource.has_updated_at:
                in_window = []
                for record in records:
                    updated = _parse_time(str(record.version))
                    newest = updated if newest is None else max(newest, updated)
                    if since is not None and updated < since - self.overlap:
                        continue
                    loaded_recent[record.native_id] = str(record.version)
                    in_window.append(record)
                # Unchanged records of the overlap window were reported last time already.
                changed = changed_records(in_window, recent)
            else:
                changed = changed_since_snapshot(records, snapshots)
            if changed:
                yield ChangePage(records=changed, cursor=old_cursor)

        if not scan.consistent:
            # The list moved under the scan: records may have been skipped and ids may look
            # deleted that are not. Keep the old cursor; the next read scans again.
            yield ChangePage(cursor=old_cursor)
            return
        deleted = vanished(known_ids, live_ids) if (previous or snapshots is not None) else []
        yield ChangePage(
            deleted_ids=deleted,
            cursor={
                "updated_since": _format_time(newest) if newest else None,
                "ids": sorted(live_ids),
                "recent": remembered(loaded_recent),
            },
        )

    # --- writing --------------------------------------------------------------------------

    def _payload(self, resource: Resource, fields: Mapping[str, Any], record_id: str | None) -> dict[str, Any]:
        unknown = set(fields) - set(resource.fields)
        if unknown:
            raise RecordRejected(
                f"unknown {resource.name} fields: {', '.join(sorted(unknown))} (known: {', '.join(resource.fields)})",
                system=self.system,
                record_id=record_id,
            )
        if "assigned_to" in fields:
            fields = {**fields, "assigned_to": employees.assigned_list(fields["assigned_to"])}
        # BottleCRM's serializers refuse null for text fields but accept "" as "empty".
        # Numbers and references are sent as null, and a price as the decimal's text.
        return {
            name: ("" if value is None and name not in resource.null_fields else value)
            if name != "price" or value is None
            else str(value)
            for name, value in fields.items()
        }

    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        resource = self._resource(entity)
        if resource is EMPLOYEE:
            return self.employees.create(records)

        def create_one(fields: Mapping[str, Any]) -> NativeRecord:
            payload = self._payload(resource, fields, None)
            # Not idempotent: retried only when the server cannot have created it.
            body = self._request("POST", resource.path, json=payload, idempotent=False).json()
            created = body[resource.created_key] if resource.created_key else body
            return self._get_one(resource, str(created["id"]))

        def delete_one(record: NativeRecord) -> None:
            self._request("DELETE", f"{resource.path}{record.native_id}/", record_id=record.native_id)

        return create_all_or_none(records, create_one, delete_one, system=self.system)

    def _check_version(self, resource: Resource, native_id: str, expected_version: str | None) -> NativeRecord:
        current = self._get_one(resource, native_id)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(
                f"{resource.name} {native_id} is at version {current.version}, not {expected_version}",
                system=self.system,
                record_id=native_id,
            )
        return current

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        resource = self._resource(entity)
        # The API has no conditional PATCH: compare right before writing (a small race window
        # remains; the next read of changes shows anything that slipped through).
        current = self._check_version(resource, native_id, expected_version)
        if resource is EMPLOYEE:
            return self.employees.update(current, patch)
        payload = self._payload(resource, patch, native_id)
        if not payload:
            return current
        self._request(resource.update_method, f"{resource.path}{native_id}/", json=payload, record_id=native_id)
        return self._get_one(resource, native_id)

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        resource = self._resource(entity)
        self._check_version(resource, native_id, expected_version)
        if resource is EMPLOYEE:
            self.employees.refuse_delete(native_id)
        self._request("DELETE", f"{resource.path}{native_id}/", record_id=native_id)

    def archive(self, entity: str, native_id: str, expected_version: str | None) -> None:
        resource = self._resource(entity)
        if resource is not EMPLOYEE:
            super().archive(entity, native_id, expected_version)
            return
        self._check_version(resource, native_id, expected_version)
        self.employees.archive(native_id)


def _validation_message(response: httpx.Response) -> str:
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

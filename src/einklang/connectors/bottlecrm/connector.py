"""BottleCRM (PyPI ``django-crm`` 1.35) over its REST API with a personal access token.

What the API offers and what follows from it (see docs/connectors/bottlecrm.md):

- Lists cannot be filtered by modification time. Contacts and accounts are read through
  BottleCRM's activity feed between full reconciliations (:mod:`._changes`); products by a scan
  of the whole list comparing ``updated_at``. Accounts show no ``updated_at`` at all, so an
  account's version is a hash of its fields.
- Deletes are hard (404 afterwards): named by the feed, and found by comparing the id set with
  the previous one in every reconciliation.
- Lists are paged by offset in an order new records can disturb (``-id`` for accounts): a
  scan whose count moved while it ran is not trusted with deletions or with the cursor.
- Creates answer 200 with only the id; validation errors are 400 ``{"error": true, "errors":
  {field: [messages]}}``. No write is conditional: the version is compared right before it.
- Updates and reads of single records run ``concurrency`` at a time (:mod:`._pool`).
- Outgoing webhooks, received by ``einklang serve``, name changed records (:mod:`.webhooks`).
- The organisation's users are the ``employee`` resource (:mod:`.employees`: invited, patched,
  deactivated, never deleted); an account's ``assigned_to`` is its manager, a ref to one of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from einklang.connectors._http import HttpSettings, RetryPolicy, create_all_or_none, make_client
from einklang.connectors.base import (
    Capabilities,
    ChangeDetection,
    ChangePage,
    ConfigurationError,
    Connector,
    JsonValue,
    NativeRecord,
    RecordNotFound,
    RecordRejected,
    RecordUpdate,
    SnapshotStore,
    StaleVersion,
    UpdateOutcome,
)
from einklang.connectors.bottlecrm import employees
from einklang.connectors.bottlecrm._api import BottleCrmApi, Scan, native
from einklang.connectors.bottlecrm._changes import ChangeReader, WebhookInbox
from einklang.connectors.bottlecrm._pool import RequestGate, RequestPool
from einklang.connectors.bottlecrm._resources import ACCOUNT, CONTACT, EMPLOYEE, PRODUCT, RESOURCES, Resource
from einklang.connectors.bottlecrm.webhooks import (
    DEFAULT_TOLERANCE_SECONDS,
    EVENT_HEADER,
    PING,
    SIGNATURE_HEADER,
    WebhookRefused,
    parse_event,
    verify_signature,
)
from einklang.connectors.settings import (
    ConnectorSettings,
    Flag,
    NonNegativeNumber,
    PositiveInt,
    PositiveNumber,
    Secret,
)
from einklang.normalize.phone import phone_for_system

_Scan = Scan  # the name resource modules (employees) import

__all__ = ["ACCOUNT", "CONTACT", "PRODUCT", "BottleCrmConnector", "RecordUpdate", "WebhookReceipt"]


class BottleCrmSettings(HttpSettings):
    token: Secret  # a personal access token
    page_size: PositiveInt = 100
    overlap_seconds: NonNegativeNumber = 2.0
    concurrency: PositiveInt = 6  # requests in flight at once (updates, reads of single records)
    change_feed: Flag = True  # read contacts' and accounts' changes from the activity feed
    reconcile_seconds: NonNegativeNumber = 3600.0  # a full scan at least this often (0: every cycle)
    webhook_secret: Secret | None = None  # the signing secret of BottleCRM's webhook (whsec_...)
    webhook_tolerance_seconds: PositiveNumber = DEFAULT_TOLERANCE_SECONDS


class BottleCrmEntityOptions(ConnectorSettings):
    resource: Literal["account", "contact", "product", "employee"] | None = None  # default: the entity name


@dataclass(frozen=True)
class WebhookReceipt:
    """A verified webhook delivery: the event, and the entities whose next cycle reads its record."""

    event: str
    record_id: str | None
    entities: tuple[str, ...]


class BottleCrmConnector(Connector):
    """Settings: url, token, [page_size, overlap_seconds, concurrency, change_feed,
    reconcile_seconds, webhook_secret, webhook_tolerance_seconds, timeout, verify_tls, retry_*].

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
        self.policy = retry_policy or RetryPolicy.from_settings(self.settings)
        token = self.settings.token.get_secret_value()
        self.client = make_client(
            self.settings,
            base_url=self.settings.url.rstrip("/"),
            transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        self.gate = RequestGate(
            max_wait=self.policy.max_wait, default_wait=self.policy.initial_wait, sleep=self.policy.sleep
        )
        self.gate.install(self.client)
        self.pool = RequestPool(self.settings.concurrency, system=system)
        self.api = BottleCrmApi(
            self.client, system=system, policy=self.policy, page_size=self.page_size, pool=self.pool
        )
        self.inbox = WebhookInbox()
        self.changes = ChangeReader(
            self.api,
            overlap=timedelta(seconds=self.settings.overlap_seconds),
            reconcile_seconds=self.settings.reconcile_seconds,
            use_feed=self.settings.change_feed,
            inbox=self.inbox,
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
        # The organisation's users: their own list, detail and writes (employees.py).
        self.employees = employees.EmployeeEndpoint(self, EMPLOYEE)
        self.api.endpoints[EMPLOYEE.name] = self.employees

    def close(self) -> None:
        self.pool.close()
        self.client.close()

    def _resource(self, entity: str) -> Resource:
        try:
            return self.resources[entity]
        except KeyError:
            raise ConfigurationError(f"entity {entity!r} is not configured", system=self.system) from None

    # For resource modules written against the connector (its HTTP path and its reading of rows).
    def _request(self, method: str, path: str, **request_args: Any) -> httpx.Response:
        return self.api.request(method, path, **request_args)

    def _native(self, resource: Resource, raw: Mapping[str, Any]) -> NativeRecord:
        return native(resource, raw)

    def native_fields(self, entity: str) -> set[str]:
        """The fields einklang reads from and writes to the entity's endpoint."""
        return set(self._resource(entity).fields)

    def capabilities(self, entity: str) -> Capabilities:
        resource = self._resource(entity)
        # Read through the feed, records are compared with the versions the engine stores
        # (snapshot mode), which also keeps the id set for deletions out of the cursor.
        by_timestamp = resource.has_updated_at and not self.changes.has_feed(resource)
        detection = ChangeDetection.TIMESTAMP if by_timestamp else ChangeDetection.SNAPSHOT
        return Capabilities(change_detection=detection, reports_deletions=True, conditional_writes=True, batch_size=50)

    def check(self) -> str:
        for entity, resource in self.resources.items():
            try:
                self.api.request("GET", resource.path, params={"limit": 1, "offset": 0})
            except RecordNotFound as missing:
                raise ConfigurationError(
                    f"entity {entity!r}: {resource.path} not found", system=self.system
                ) from missing
        return f"BottleCRM at {self.client.base_url}, entities {', '.join(self.resources)}"

    # --- reading --------------------------------------------------------------------------

    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        resource = self._resource(entity)
        for rows in self.api.list_pages(resource, Scan(), page_size):
            # An account page holds open and closed accounts: up to twice the page size.
            for start in range(0, len(rows), page_size):
                yield [native(resource, row) for row in rows[start : start + page_size]]

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        return self.api.get_many(self._resource(entity), native_ids)

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
            page = self.api.list_page(resource, self.page_size, offset, **params)
            for row in page.rows:
                record = native(resource, row)
                if all(record.fields.get(name) == value for name, value in criteria.items()):
                    found.append(record)
            if not page.full:
                break
            offset += self.page_size
        return found[:limit]

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        return self.changes.read(self._resource(entity), cursor, snapshots)

    def current_cursor(self, entity: str) -> JsonValue:
        resource = self._resource(entity)
        if self.changes.has_feed(resource):
            return self.changes.initial_cursor(resource)
        return super().current_cursor(entity)

    # --- webhooks -------------------------------------------------------------------------

    def receive_webhook(self, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> WebhookReceipt:
        """Verify one delivery of BottleCRM's webhook and queue the record it names.

        Raises :class:`WebhookRefused` when no ``webhook_secret`` is configured or the signature
        does not hold. The record is read by the next cycle of every entity served by its
        resource (the caller starts those cycles).
        """
        if self.settings.webhook_secret is None:
            raise WebhookRefused("not_configured", f"system {self.system!r} has no webhook_secret")
        verify_signature(
            self.settings.webhook_secret.get_secret_value(),
            headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower()),
            body,
            now=time.time() if now is None else now,
            tolerance=self.settings.webhook_tolerance_seconds,
        )
        event = parse_event(body)
        header_event = headers.get(EVENT_HEADER) or headers.get(EVENT_HEADER.lower())
        if header_event and header_event != event.event:
            raise WebhookRefused("payload", f"{EVENT_HEADER} {header_event!r} is not the body's {event.event!r}")
        if event.event == PING or event.record_id is None:
            return WebhookReceipt(event.event, None, ())
        entities = tuple(entity for entity, resource in self.resources.items() if resource.name == event.resource)
        if entities:
            self.inbox.add(event.resource, [event.record_id])
        return WebhookReceipt(event.event, event.record_id, entities)

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
        payload = {
            name: ("" if value is None and name not in resource.null_fields else value)
            if name != "price" or value is None
            else str(value)
            for name, value in fields.items()
        }
        if payload.get("phone"):
            # BottleCRM allows digits and separators only: an extension goes the DIN 5008 way
            # ("+49 30 1234567-102"), which native() reads back.
            payload["phone"] = phone_for_system(str(payload["phone"]), "din5008")
        return payload

    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        # One after the other: BottleCRM checks uniqueness (a contact's e-mail, a product's SKU)
        # before it inserts, so two creates of one batch in flight together could both pass.
        resource = self._resource(entity)
        if resource is EMPLOYEE:
            return self.employees.create(records)

        def create_one(fields: Mapping[str, Any]) -> NativeRecord:
            payload = self._payload(resource, fields, None)
            # Not idempotent: retried only when the server cannot have created it.
            body = self.api.request("POST", resource.path, json=payload, idempotent=False).json()
            created = body[resource.created_key] if resource.created_key else body
            return self.api.get_one(resource, str(created["id"]))

        def delete_one(record: NativeRecord) -> None:
            self.api.request("DELETE", f"{resource.path}{record.native_id}/", record_id=record.native_id)

        return create_all_or_none(records, create_one, delete_one, system=self.system)

    def _check_version(self, resource: Resource, native_id: str, expected_version: str | None) -> NativeRecord:
        current = self.api.get_one(resource, native_id)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(
                f"{resource.name} {native_id} is at version {current.version}, not {expected_version}",
                system=self.system,
                record_id=native_id,
            )
        return current

    def _update(self, resource: Resource, change: RecordUpdate) -> NativeRecord:
        # The API has no conditional PATCH: compare right before writing (a small race window
        # remains; the next read of changes shows anything that slipped through).
        current = self._check_version(resource, change.native_id, change.expected_version)
        if resource is EMPLOYEE:
            return self.employees.update(current, change.patch)
        payload = self._payload(resource, change.patch, change.native_id)
        if not payload:
            return current
        path = f"{resource.path}{change.native_id}/"
        self.api.request(resource.update_method, path, json=payload, record_id=change.native_id)
        return self.api.get_one(resource, change.native_id)

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        return self._update(self._resource(entity), RecordUpdate(native_id, patch, expected_version))

    def update_many(self, entity: str, updates: Sequence[RecordUpdate]) -> Iterator[UpdateOutcome]:
        """Each update as :meth:`update` does it (version check, PATCH, read back), ``concurrency``
        at a time; outcomes in the order of ``updates`` (the contract of ``Connector.update_many``).

        A record's failure (``StaleVersion``, ``RecordNotFound``, ``RecordRejected``) is its
        outcome and the others go on. After a ``SystemUnavailable`` no further update is sent,
        and it is raised at the first update (in order) it stopped. An update after that one may
        have been in flight and written: the engine does not count it as sent, so it is sent
        again with the old version, finds the version moved and re-reads it (never a blind write).
        """
        resource = self._resource(entity)
        for outcome in self.pool.map(lambda change: self._update(resource, change), updates):
            if isinstance(outcome, NativeRecord | StaleVersion | RecordNotFound | RecordRejected):
                yield outcome
            else:
                raise outcome

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        resource = self._resource(entity)
        self._check_version(resource, native_id, expected_version)
        if resource is EMPLOYEE:
            self.employees.refuse_delete(native_id)
        self.api.request("DELETE", f"{resource.path}{native_id}/", record_id=native_id)

    def archive(self, entity: str, native_id: str, expected_version: str | None) -> None:
        resource = self._resource(entity)
        if resource is not EMPLOYEE:
            super().archive(entity, native_id, expected_version)
            return
        self._check_version(resource, native_id, expected_version)
        self.employees.archive(native_id)

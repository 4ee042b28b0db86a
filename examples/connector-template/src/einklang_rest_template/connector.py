"""The connector: flat native records over a REST API, conditional writes with If-Match.

The API keeps a change feed (every write gets a growing sequence number, deletions stay as
tombstones), so changes are read from a cursor and deletions are reported. An API without one
would scan the whole list and compare versions with ``einklang.connectors._snapshots``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
from pydantic import BaseModel

from einklang.connectors._http import RetryPolicy, create_all_or_none, make_client, send_with_retry
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
from einklang_rest_template.settings import RestEntityOptions, RestSettings


class RestConnector(Connector):
    settings_model = RestSettings
    entity_settings_model = RestEntityOptions
    settings: RestSettings
    entity_settings: Mapping[str, RestEntityOptions]

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any] | BaseModel,
        entities: Mapping[str, Mapping[str, Any] | BaseModel],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(system, settings, entities)  # validates both against the models above
        token = self.settings.token
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        self.client = make_client(self.settings, base_url=self.settings.url, headers=headers, transport=transport)
        self.policy = RetryPolicy.from_settings(self.settings)

    def close(self) -> None:
        self.client.close()

    # --- description -------------------------------------------------------------------------
    def _path(self, entity: str) -> str:
        try:
            options = self.entity_settings[entity]
        except KeyError:
            raise ConfigurationError(f"entity {entity!r} is not configured", system=self.system) from None
        return "/" + (options.resource or entity)

    def capabilities(self, entity: str) -> Capabilities:
        self._path(entity)
        return Capabilities(
            change_detection=ChangeDetection.FEED,
            reports_deletions=True,
            conditional_writes=True,
            batch_size=self.settings.page_size,
        )

    def check(self) -> str:
        for entity in self.entity_settings:
            self._request("GET", self._path(entity), params={"limit": 1})
        return f"REST API at {self.settings.url}, entities {', '.join(self.entity_settings)}"

    # --- HTTP: one place turns answers into the contract's errors ----------------------------
    def _request(
        self, method: str, path: str, *, record_id: str | None = None, idempotent: bool = True, **args: Any
    ) -> httpx.Response:
        # send_with_retry retries timeouts, 429 (honouring Retry-After) and 502-504, and turns
        # what persists into SystemUnavailable; a create is retried only when it cannot have run.
        response = send_with_retry(
            self.client, method, path, system=self.system, policy=self.policy, idempotent=idempotent, **args
        )
        status = response.status_code
        if status in (401, 403):
            raise ConfigurationError(f"{method} {path}: HTTP {status} (token refused?)", system=self.system)
        if status == 404:
            raise RecordNotFound(f"{method} {path}: not found", system=self.system, record_id=record_id)
        if status == 412:
            raise StaleVersion(f"{method} {path}: the record changed", system=self.system, record_id=record_id)
        if status in (400, 422):
            reason = response.json().get("error", response.text[:200])
            raise RecordRejected(f"{method} {path}: {reason}", system=self.system, record_id=record_id)
        if status >= 500:
            raise SystemUnavailable(f"{method} {path}: HTTP {status}", system=self.system)
        if status >= 300:
            raise ConnectorError(f"{method} {path}: HTTP {status}", system=self.system, record_id=record_id)
        return response

    @staticmethod
    def _native(body: Mapping[str, Any]) -> NativeRecord:
        return NativeRecord(native_id=str(body["id"]), version=str(body["version"]), fields=dict(body["fields"]))

    # --- reading -----------------------------------------------------------------------------
    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size, **({"after": after} if after is not None else {})}
            items = self._request("GET", self._path(entity), params=params).json()["items"]
            if items:
                yield [self._native(item) for item in items]
            if len(items) < page_size:
                return
            after = str(items[-1]["id"])

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        found: dict[str, NativeRecord] = {}
        for native_id in native_ids:
            try:
                body = self._request("GET", f"{self._path(entity)}/{native_id}", record_id=native_id).json()
            except RecordNotFound:
                continue
            found[native_id] = self._native(body)
        return found

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        # No server-side filter in this API: scan and compare (fine for thousands of records).
        found: list[NativeRecord] = []
        for page in self.read_all(entity, self.settings.page_size):
            found.extend(r for r in page if all(r.fields.get(k) == v for k, v in criteria.items()))
            if len(found) >= limit:
                break
        return found[:limit]

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        since = int(cursor or 0)
        while True:
            params = {"since": since, "limit": self.settings.page_size}
            body = self._request("GET", f"{self._path(entity)}/changes", params=params).json()
            items = body["items"]
            page = ChangePage(cursor=items[-1]["seq"] if items else since)
            for item in items:
                if item["deleted"]:
                    page.deleted_ids.append(str(item["id"]))
                else:
                    page.records.append(self._native(item["record"]))
            yield page
            if len(items) < self.settings.page_size:
                return
            since = page.cursor

    def current_cursor(self, entity: str) -> JsonValue:
        body = self._request("GET", f"{self._path(entity)}/changes", params={"since": 0, "limit": 0}).json()
        return int(body["latest"])

    # --- writing -----------------------------------------------------------------------------
    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        def create_one(fields: Mapping[str, Any]) -> NativeRecord:
            body = self._request("POST", self._path(entity), json={"fields": dict(fields)}, idempotent=False).json()
            return self._native(body)

        def delete_one(record: NativeRecord) -> None:
            self.delete(entity, record.native_id, record.version)

        # The API has no batch transaction: a refused record undoes the ones before it.
        return create_all_or_none(records, create_one, delete_one, system=self.system)

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        headers = {"If-Match": expected_version} if expected_version is not None else {}
        path = f"{self._path(entity)}/{native_id}"
        body = self._request("PATCH", path, record_id=native_id, json={"fields": dict(patch)}, headers=headers).json()
        return self._native(body)

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        headers = {"If-Match": expected_version} if expected_version is not None else {}
        self._request("DELETE", f"{self._path(entity)}/{native_id}", record_id=native_id, headers=headers)

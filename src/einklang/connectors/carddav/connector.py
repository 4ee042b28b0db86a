"""Any CardDAV address book (tested with Radicale 3.9): contacts as vCards.

- A record is one vCard resource; its native id is the resource name inside the address book
  (``<uid>.vcf`` for cards einklang creates), its version the ETag.
- Changes come from the sync-collection REPORT (RFC 6578); a sync token the server no longer
  accepts (403/409 ``valid-sync-token``) falls back to a full PROPFIND listing compared with
  the versions einklang stored (``SnapshotStore``) or, without those, reported in full.
- Writes are conditional on the ETag (``If-Match``; ``If-None-Match: *`` for creates). Updates
  read the card, change only the mapped properties and write it back, so photos, notes, second
  addresses and X- properties of other programs survive.
- vCard 3.0 is written; 3.0 and 4.0 are read (2.1-style bare TYPE parameters are understood).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree

import httpx
from pydantic import BaseModel

from einklang.connectors._http import (
    RetryPolicy,
    create_all_or_none,
    make_client,
    send_with_retry,
)
from einklang.connectors._snapshots import changed_ids, stored_versions, vanished
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
from einklang.connectors.carddav.options import CardDavEntityOptions, CardDavSettings
from einklang.connectors.carddav.vcard import FLAT_FIELDS, VCard, apply_fields, card_to_fields, fields_to_card
from einklang.connectors.carddav.webdav import CARDDAV, DAV, XML_HEADERS, Entry, parse_multistatus, xml_text


class CardDavConnector(Connector):
    """Settings: url (the address book collection), user, password, [timeout, verify_tls, retry_*].

    Entity options: ``addressbook`` (a URL or path overriding ``url`` for that entity),
    ``page_size`` for multiget batches (default 100).
    """

    settings_model = CardDavSettings
    entity_settings_model = CardDavEntityOptions
    settings: CardDavSettings
    entity_settings: Mapping[str, CardDavEntityOptions]

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any] | BaseModel,
        entities: Mapping[str, Mapping[str, Any] | BaseModel],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(system, settings, entities)
        base = self.settings.url
        user, password = self.settings.user, self.settings.password
        auth = (user, password.get_secret_value() if password else "") if user else None
        self.policy = RetryPolicy.from_settings(self.settings)
        self.client = make_client(self.settings, auth=auth, transport=transport)
        self.collections: dict[str, str] = {}
        for entity, options in self.entity_settings.items():
            url = urljoin(base, options.addressbook or base)
            self.collections[entity] = url if url.endswith("/") else url + "/"

    def close(self) -> None:
        self.client.close()

    def _collection(self, entity: str) -> str:
        try:
            return self.collections[entity]
        except KeyError:
            raise ConfigurationError(f"entity {entity!r} is not configured", system=self.system) from None

    def _batch(self, entity: str) -> int:
        self._collection(entity)
        return self.entity_settings[entity].page_size

    def native_fields(self, entity: str) -> set[str]:
        """The flat fields read from and written to a vCard's properties."""
        self._collection(entity)
        return set(FLAT_FIELDS)

    def capabilities(self, entity: str) -> Capabilities:
        self._collection(entity)
        return Capabilities(
            change_detection=ChangeDetection.FEED,
            reports_deletions=True,
            conditional_writes=True,
            batch_size=self._batch(entity),
        )

    # --- HTTP ------------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, *, record_id: str | None = None, idempotent: bool = True, **request_args: Any
    ) -> httpx.Response:
        response = send_with_retry(
            self.client, method, url, system=self.system, policy=self.policy, idempotent=idempotent, **request_args
        )
        if response.status_code in (401, 403) and b"valid-sync-token" not in response.content:
            raise ConfigurationError(
                f"{method} {url}: HTTP {response.status_code} (credentials or rights)", system=self.system
            )
        if response.status_code >= 500:
            raise SystemUnavailable(f"{method} {url}: HTTP {response.status_code}", system=self.system)
        return response

    def _report(self, url: str, body: str, depth: str = "1") -> httpx.Response:
        return self._send("REPORT", url, headers={**XML_HEADERS, "Depth": depth}, content=body.encode())

    def _resource_url(self, entity: str, native_id: str) -> str:
        return self._collection(entity) + quote(native_id)

    def _native_id(self, entity: str, href: str) -> str | None:
        """The resource name of a member href; None for the collection itself."""
        collection_path = unquote(urlsplit(self._collection(entity)).path)
        path = unquote(urlsplit(href).path)
        if not path.startswith(collection_path) or path.rstrip("/") == collection_path.rstrip("/"):
            return None
        return path[len(collection_path) :]

    def check(self) -> str:
        for entity in self.collections:
            response = self._send(
                "PROPFIND",
                self._collection(entity),
                headers={**XML_HEADERS, "Depth": "0"},
                content=b'<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>',
            )
            if response.status_code != 207 or b"addressbook" not in response.content:
                raise ConfigurationError(
                    f"entity {entity!r}: {self._collection(entity)} is not an address "
                    f"book (HTTP {response.status_code})",
                    system=self.system,
                )
        return f"CardDAV address book(s): {', '.join(self.collections.values())}"

    # --- reading ---------------------------------------------------------------------------

    def _listing(self, entity: str) -> tuple[dict[str, str], str | None]:
        """Every card's native id -> ETag, and the collection's current sync token."""
        body = '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:resourcetype/><D:sync-token/></D:prop></D:propfind>'
        response = self._send(
            "PROPFIND", self._collection(entity), headers={**XML_HEADERS, "Depth": "1"}, content=body.encode()
        )
        if response.status_code != 207:
            raise ConnectorError(
                f"PROPFIND {self._collection(entity)}: HTTP {response.status_code}", system=self.system
            )
        entries, _ = parse_multistatus(response.content)
        root = ElementTree.fromstring(response.content)
        token = None
        for element in root.iter(f"{{{DAV}}}sync-token"):
            token = (element.text or "").strip() or token
        listing = {}
        for entry in entries:
            native_id = self._native_id(entity, entry.href)
            if native_id is not None and entry.etag is not None:
                listing[native_id] = entry.etag
        return listing, token

    def _multiget(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        if not native_ids:
            return {}
        collection_path = urlsplit(self._collection(entity)).path
        hrefs = "".join(f"<D:href>{xml_text(collection_path + quote(i))}</D:href>" for i in native_ids)
        body = (
            f'<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:prop><D:getetag/>'
            f"<C:address-data/></D:prop>{hrefs}</C:addressbook-multiget>"
        )
        response = self._report(self._collection(entity), body)
        if response.status_code != 207:
            raise ConnectorError(f"addressbook-multiget: HTTP {response.status_code}", system=self.system)
        found: dict[str, NativeRecord] = {}
        for entry in parse_multistatus(response.content)[0]:
            native_id = self._native_id(entity, entry.href)
            if native_id is None or entry.status != 200 or entry.card_text is None:
                continue
            found[native_id] = NativeRecord(native_id, entry.etag, card_to_fields(VCard.parse(entry.card_text)))
        return found

    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        listing, _ = self._listing(entity)
        ids = sorted(listing)
        for start in range(0, len(ids), page_size):
            batch = ids[start : start + page_size]
            found = self._multiget(entity, batch)
            yield [found[i] for i in batch if i in found]

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        found: dict[str, NativeRecord] = {}
        batch = self._batch(entity)
        for start in range(0, len(native_ids), batch):
            found.update(self._multiget(entity, list(native_ids[start : start + batch])))
        return found

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        unknown = set(criteria) - set(FLAT_FIELDS)
        if unknown:
            raise ConfigurationError(f"unknown vCard fields: {', '.join(sorted(unknown))}", system=self.system)
        # Address books are small (hundreds to a few thousand cards): a scan is simpler and more
        # predictable across servers than addressbook-query text-match collations.
        found: list[NativeRecord] = []
        for page in self.read_all(entity, self._batch(entity)):
            for record in page:
                if all(record.fields.get(name) == value for name, value in criteria.items()):
                    found.append(record)
                    if len(found) >= limit:
                        return found
        return found

    def _sync_collection(self, entity: str, token: str) -> tuple[list[Entry], str | None] | None:
        """The changes since ``token``; None when the server refuses the token."""
        body = (
            f'<D:sync-collection xmlns:D="DAV:"><D:sync-token>{xml_text(token)}</D:sync-token>'
            "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
        )
        response = self._report(self._collection(entity), body, depth="0")
        if response.status_code in (403, 409) and b"valid-sync-token" in response.content:
            return None
        if response.status_code != 207:
            raise ConnectorError(
                f"sync-collection: HTTP {response.status_code} {response.text[:200]}", system=self.system
            )
        return parse_multistatus(response.content)

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        token = cursor.get("sync_token") if isinstance(cursor, Mapping) else None
        synced = self._sync_collection(entity, token or "")
        changed: list[str] = []
        deleted: list[str] = []
        if synced is not None:
            entries, new_token = synced
            for entry in entries:
                native_id = self._native_id(entity, entry.href)
                if native_id is None:
                    continue
                if entry.status == 404:
                    deleted.append(native_id)
                else:
                    changed.append(native_id)
        else:
            # Token refused (expired, server reset): compare a full listing with what einklang
            # stored; without stored versions everything is reported and deletions are unknown.
            listing, new_token = self._listing(entity)
            changed = changed_ids(listing, stored_versions(snapshots, sorted(listing)))
            if snapshots is not None:
                deleted = vanished(snapshots.known_ids(), listing)
        new_cursor = {"sync_token": new_token}
        old_cursor = dict(cursor) if isinstance(cursor, Mapping) else None
        batch = self._batch(entity)
        pages = [changed[start : start + batch] for start in range(0, len(changed), batch)]
        for number, ids in enumerate(pages):
            found = self._multiget(entity, ids)
            last = number == len(pages) - 1
            # A card changed in the sync answer but gone by the multiget was deleted meanwhile.
            gone_meanwhile = [i for i in ids if i not in found]
            yield ChangePage(
                records=[found[i] for i in ids if i in found],
                deleted_ids=gone_meanwhile + (deleted if last else []),
                cursor=new_cursor if last else old_cursor,
            )
        if not pages:
            yield ChangePage(deleted_ids=deleted, cursor=new_cursor)

    def current_cursor(self, entity: str) -> JsonValue:
        _, token = self._listing(entity)
        return {"sync_token": token}

    # --- writing ---------------------------------------------------------------------------

    def _check_fields(self, fields: Mapping[str, Any], record_id: str | None) -> None:
        unknown = set(fields) - set(FLAT_FIELDS)
        if unknown:
            raise RecordRejected(
                f"unknown vCard fields: {', '.join(sorted(unknown))} (known: {', '.join(FLAT_FIELDS)})",
                system=self.system,
                record_id=record_id,
            )

    def _put(self, entity: str, native_id: str, card: VCard, condition: dict[str, str]) -> httpx.Response:
        return self._send(
            "PUT",
            self._resource_url(entity, native_id),
            record_id=native_id,
            headers={"Content-Type": "text/vcard; charset=utf-8", **condition},
            content=card.serialize().encode("utf-8"),
        )

    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        def create_one(fields: Mapping[str, Any]) -> NativeRecord:
            self._check_fields(fields, None)
            card = fields_to_card(fields)
            uid = card_to_fields(card)["uid"]
            native_id = re.sub(r"[^A-Za-z0-9@._-]", "_", str(uid)) + ".vcf"
            # If-None-Match makes a repeated create (after a lost answer) fail instead of
            # overwriting: the PUT is safe to retry, and a UID clash is reported.
            response = self._put(entity, native_id, card, {"If-None-Match": "*"})
            if response.status_code == 412:
                raise RecordRejected(f"a card {native_id} exists already (UID {uid})", system=self.system)
            if response.status_code not in (200, 201, 204):
                raise RecordRejected(
                    f"PUT {native_id}: HTTP {response.status_code} {response.text[:200]}", system=self.system
                )
            # Servers may normalise the card (and some send no ETag): read back what is stored.
            stored = self._multiget(entity, [native_id])
            if native_id not in stored:
                raise ConnectorError(f"created card {native_id} cannot be read back", system=self.system)
            return stored[native_id]

        def delete_one(record: NativeRecord) -> None:
            self.delete(entity, record.native_id, record.version)

        return create_all_or_none(records, create_one, delete_one, system=self.system)

    def _fetch(self, entity: str, native_id: str) -> tuple[VCard, str | None]:
        response = self._send("GET", self._resource_url(entity, native_id), record_id=native_id)
        if response.status_code == 404:
            raise RecordNotFound(f"card {native_id} not found", system=self.system, record_id=native_id)
        if response.status_code != 200:
            raise ConnectorError(
                f"GET {native_id}: HTTP {response.status_code}", system=self.system, record_id=native_id
            )
        return VCard.parse(response.text), response.headers.get("ETag")

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        self._check_fields(patch, native_id)
        card, etag = self._fetch(entity, native_id)
        if expected_version is not None and etag is not None and etag != expected_version:
            raise StaleVersion(
                f"card {native_id} is at ETag {etag}, not {expected_version}", system=self.system, record_id=native_id
            )
        apply_fields(card, patch)
        match_etag = expected_version or etag
        # If-Match closes the gap between our GET and this PUT.
        response = self._put(entity, native_id, card, {"If-Match": match_etag} if match_etag else {})
        if response.status_code == 412:
            raise StaleVersion(
                f"card {native_id} changed while it was being written", system=self.system, record_id=native_id
            )
        if response.status_code == 404:
            raise RecordNotFound(f"card {native_id} not found", system=self.system, record_id=native_id)
        if response.status_code not in (200, 201, 204):
            raise RecordRejected(
                f"PUT {native_id}: HTTP {response.status_code} {response.text[:200]}",
                system=self.system,
                record_id=native_id,
            )
        stored = self._multiget(entity, [native_id])
        if native_id not in stored:
            raise RecordNotFound(f"card {native_id} vanished after writing", system=self.system, record_id=native_id)
        return stored[native_id]

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        headers = {"If-Match": expected_version} if expected_version else {}
        response = self._send("DELETE", self._resource_url(entity, native_id), record_id=native_id, headers=headers)
        if response.status_code == 404:
            raise RecordNotFound(f"card {native_id} not found", system=self.system, record_id=native_id)
        if response.status_code == 412:
            raise StaleVersion(
                f"card {native_id} changed since ETag {expected_version}", system=self.system, record_id=native_id
            )
        if response.status_code not in (200, 204):
            raise ConnectorError(
                f"DELETE {native_id}: HTTP {response.status_code}", system=self.system, record_id=native_id
            )

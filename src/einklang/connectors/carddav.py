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
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree

import httpx

from einklang.connectors._http import (
    RetryPolicy,
    create_all_or_none,
    make_client,
    require_setting,
    send_with_retry,
)
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

DAV = "DAV:"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
NS = {"D": DAV, "C": CARDDAV}
XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}

FLAT_FIELDS = (
    "uid",
    "name",
    "first_name",
    "last_name",
    "company",
    "title",
    "email",
    "phone",
    "mobile",
    "street",
    "postal_code",
    "city",
    "country",
)
_ADDRESS_FIELDS = ("street", "postal_code", "city", "country")
# ADR components: post office box; extended address; street; locality; region; postal code; country
_ADR_INDEX = {"street": 2, "city": 3, "postal_code": 5, "country": 6}


# --- vCard ----------------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def _split_components(raw: str) -> list[str]:
    """Split a structured value (N, ADR, ORG) on unescaped semicolons, then unescape."""
    return [_unescape(part) for part in re.split(r"(?<!\\);", raw)]


@dataclass
class VCardProperty:
    name: str  # upper case, without group
    params: list[tuple[str, str]]  # (NAME, value) in original order; bare 2.1 params as ("TYPE", v)
    raw_value: str  # escaped, as on the wire
    group: str | None = None

    @property
    def types(self) -> set[str]:
        found: set[str] = set()
        for key, value in self.params:
            if key == "TYPE":
                found.update(part.strip().strip('"').lower() for part in value.split(","))
        return found

    def text(self) -> str:
        return _unescape(self.raw_value)

    def components(self) -> list[str]:
        return _split_components(self.raw_value)

    def serialize(self) -> str:
        head = f"{self.group}.{self.name}" if self.group else self.name
        params = "".join(f";{key}={value}" for key, value in self.params)
        return _fold(f"{head}{params}:{self.raw_value}")


def _fold(line: str) -> str:
    """Fold at 75 octets without splitting a UTF-8 sequence (RFC 6350 3.2)."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    pieces: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode("utf-8")) > limit:
            pieces.append(current)
            current = ""
            limit = 74  # continuation lines start with a space
        current += char
    pieces.append(current)
    return "\r\n ".join(pieces)


@dataclass
class VCard:
    version: str
    properties: list[VCardProperty] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> VCard:
        unfolded = re.sub(r"\r?\n[ \t]", "", text)
        card = cls(version="3.0")
        inside = False
        for line in unfolded.splitlines():
            if not line.strip():
                continue
            head, sep, value = line.partition(":")
            if not sep:
                continue
            name_part, *param_parts = _split_params(head)
            group, _, name = name_part.rpartition(".")
            name = name.upper()
            if name == "BEGIN":
                inside = True
                continue
            if name == "END":
                break
            if not inside:
                continue
            if name == "VERSION":
                card.version = value.strip()
                continue
            params: list[tuple[str, str]] = []
            for param in param_parts:
                key, has_value, param_value = param.partition("=")
                if has_value:
                    params.append((key.upper(), param_value))
                else:
                    params.append(("TYPE", key))  # vCard 2.1: ;CELL;WORK
            card.properties.append(VCardProperty(name, params, value, group or None))
        return card

    def serialize(self) -> str:
        lines = ["BEGIN:VCARD", f"VERSION:{self.version}"]
        lines += [prop.serialize() for prop in self.properties]
        lines.append("END:VCARD")
        return "\r\n".join(lines) + "\r\n"

    def first(self, name: str, predicate: Any = None) -> VCardProperty | None:
        for prop in self.properties:
            if prop.name == name and (predicate is None or predicate(prop)):
                return prop
        return None

    def _ordered(self, name: str, predicate: Any = None) -> list[VCardProperty]:
        candidates = [p for p in self.properties if p.name == name and (predicate is None or predicate(p))]
        # "pref" (3.0 TYPE=pref, 4.0 PREF=1) first, otherwise document order.
        return sorted(candidates, key=lambda p: 0 if "pref" in p.types or ("PREF", "1") in p.params else 1)

    def preferred(self, name: str, predicate: Any = None) -> VCardProperty | None:
        ordered = self._ordered(name, predicate)
        return ordered[0] if ordered else None

    def set_or_remove(self, target: VCardProperty | None, new: VCardProperty | None) -> None:
        if target is not None and new is not None:
            target.raw_value = new.raw_value
        elif target is not None:
            self.properties.remove(target)
        elif new is not None:
            self.properties.append(new)


def _split_params(head: str) -> list[str]:
    # Semicolons inside quoted parameter values do not separate parameters.
    return [part for part in re.findall(r'(?:[^;"]|"[^"]*")+', head)]


def _is_mobile(prop: VCardProperty) -> bool:
    return "cell" in prop.types


def _is_phone(prop: VCardProperty) -> bool:
    return not ({"cell", "fax", "pager"} & prop.types)


def card_to_fields(card: VCard) -> dict[str, Any]:
    def text(prop: VCardProperty | None) -> str | None:
        value = prop.text().strip() if prop else ""
        return value or None

    flat: dict[str, Any] = dict.fromkeys(FLAT_FIELDS)
    flat["uid"] = text(card.first("UID"))
    flat["name"] = text(card.first("FN"))
    n = card.first("N")
    if n:
        parts = n.components() + [""] * 5
        flat["last_name"], flat["first_name"] = parts[0].strip() or None, parts[1].strip() or None
    org = card.first("ORG")
    if org:
        flat["company"] = org.components()[0].strip() or None
    flat["title"] = text(card.first("TITLE"))
    flat["email"] = text(card.preferred("EMAIL"))
    flat["phone"] = text(card.preferred("TEL", _is_phone))
    flat["mobile"] = text(card.preferred("TEL", _is_mobile))
    adr = card.preferred("ADR")
    if adr:
        parts = adr.components() + [""] * 7
        for name, index in _ADR_INDEX.items():
            flat[name] = parts[index].strip() or None
    return flat


def _new_property(name: str, value: str, params: list[tuple[str, str]] | None = None) -> VCardProperty:
    return VCardProperty(name, params or [], value)


def apply_fields(card: VCard, patch: Mapping[str, Any]) -> None:
    """Write the flat fields in ``patch`` into ``card``, touching no property einklang does not map."""
    before = card_to_fields(card)
    after = {**before, **patch}

    def text_value(name: str) -> str | None:
        value = after.get(name)
        return _escape(str(value)) if value not in (None, "") else None

    if "uid" in patch and text_value("uid"):
        card.set_or_remove(card.first("UID"), _new_property("UID", text_value("uid") or ""))
    if ("first_name" in patch or "last_name" in patch) and "name" not in patch:
        # FN follows the name parts when it was their plain join (it was not hand-edited).
        old_join = " ".join(p for p in (before["first_name"], before["last_name"]) if p)
        if before["name"] in (None, old_join):
            after["name"] = " ".join(p for p in (after["first_name"], after["last_name"]) if p) or None
            patch = {**patch, "name": after["name"]}
    if "first_name" in patch or "last_name" in patch:
        n = card.first("N")
        parts = (n.components() if n else []) + [""] * 5
        parts[0], parts[1] = after["last_name"] or "", after["first_name"] or ""
        card.set_or_remove(n, _new_property("N", ";".join(_escape(p) for p in parts[:5])))
    if "name" in patch:
        # FN is mandatory: when einklang clears it, the name parts stand in.
        fallback = " ".join(p for p in (after["first_name"], after["last_name"]) if p) or after["company"] or ""
        card.set_or_remove(card.first("FN"), _new_property("FN", text_value("name") or _escape(fallback)))
    if "company" in patch:
        org = card.first("ORG")
        units = org.components()[1:] if org else []
        value = text_value("company")
        card.set_or_remove(org, _new_property("ORG", ";".join([value, *map(_escape, units)])) if value else None)
    if "title" in patch:
        value = text_value("title")
        card.set_or_remove(card.first("TITLE"), _new_property("TITLE", value) if value else None)
    if "email" in patch:
        value = text_value("email")
        card.set_or_remove(
            card.preferred("EMAIL"), _new_property("EMAIL", value, [("TYPE", "INTERNET")]) if value else None
        )
    if "phone" in patch:
        value = text_value("phone")
        card.set_or_remove(
            card.preferred("TEL", _is_phone), _new_property("TEL", value, [("TYPE", "WORK,VOICE")]) if value else None
        )
    if "mobile" in patch:
        value = text_value("mobile")
        card.set_or_remove(
            card.preferred("TEL", _is_mobile), _new_property("TEL", value, [("TYPE", "CELL")]) if value else None
        )
    if any(name in patch for name in _ADDRESS_FIELDS):
        adr = card.preferred("ADR")
        parts = (adr.components() if adr else []) + [""] * 7
        for name, index in _ADR_INDEX.items():
            parts[index] = str(after[name] or "")
        keep = any(parts[:7])
        card.set_or_remove(
            adr, _new_property("ADR", ";".join(_escape(p) for p in parts[:7]), [("TYPE", "WORK")]) if keep else None
        )


def fields_to_card(fields: Mapping[str, Any]) -> VCard:
    card = VCard(version="3.0")
    uid = str(fields.get("uid") or uuid.uuid4())
    card.properties.append(_new_property("UID", _escape(uid)))
    card.properties.append(_new_property("FN", ""))
    card.properties.append(_new_property("N", ";;;;"))
    apply_fields(
        card,
        {
            **{k: v for k, v in fields.items() if k != "uid"},
            "first_name": fields.get("first_name"),
            "last_name": fields.get("last_name"),
            "name": fields.get("name"),
        },
    )
    return card


# --- WebDAV ---------------------------------------------------------------------------------------


@dataclass
class _Entry:
    href: str
    status: int
    etag: str | None = None
    card_text: str | None = None


def _parse_multistatus(body: bytes) -> tuple[list[_Entry], str | None]:
    root = ElementTree.fromstring(body)
    entries: list[_Entry] = []
    for response in root.findall("D:response", NS):
        href = unquote((response.findtext("D:href", "", NS) or "").strip())
        status = _status_code(response.findtext("D:status", None, NS))
        etag = card_text = None
        for propstat in response.findall("D:propstat", NS):
            prop_status = _status_code(propstat.findtext("D:status", None, NS))
            if prop_status != 200:
                continue
            status = 200 if status is None else status
            etag = propstat.findtext("D:prop/D:getetag", None, NS) or etag
            card_text = propstat.findtext("D:prop/C:address-data", None, NS) or card_text
        entries.append(_Entry(href, status or 200, etag.strip() if etag else None, card_text))
    token = root.findtext("D:sync-token", None, NS)
    return entries, token.strip() if token else None


def _status_code(status_line: str | None) -> int | None:
    if not status_line:
        return None
    parts = status_line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


class CardDavConnector(Connector):
    """Settings: url (the address book collection), user, password, [timeout, verify_tls, retry_*].

    Entity options: ``addressbook`` (a URL or path overriding ``url`` for that entity),
    ``page_size`` for multiget batches (default 100).
    """

    multiget_batch: ClassVar[int] = 100

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any],
        entities: Mapping[str, Mapping[str, Any]],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(system, settings, entities)
        base = require_setting(self.settings, "url", system)
        user = self.settings.get("user")
        auth = (str(user), str(self.settings.get("password", ""))) if user else None
        self.policy = RetryPolicy.from_settings(self.settings)
        self.client = make_client(self.settings, auth=auth, transport=transport)
        self.collections: dict[str, str] = {}
        for entity, options in self.entity_options.items():
            url = urljoin(base, str(options.get("addressbook", base)))
            self.collections[entity] = url if url.endswith("/") else url + "/"

    def close(self) -> None:
        self.client.close()

    def _collection(self, entity: str) -> str:
        try:
            return self.collections[entity]
        except KeyError:
            raise ConfigurationError(f"entity {entity!r} is not configured", system=self.system) from None

    def _batch(self, entity: str) -> int:
        return int(self.entity_options[entity].get("page_size", self.multiget_batch))

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
        entries, _ = _parse_multistatus(response.content)
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
        hrefs = "".join(f"<D:href>{_xml_text(collection_path + quote(i))}</D:href>" for i in native_ids)
        body = (
            f'<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:prop><D:getetag/>'
            f"<C:address-data/></D:prop>{hrefs}</C:addressbook-multiget>"
        )
        response = self._report(self._collection(entity), body)
        if response.status_code != 207:
            raise ConnectorError(f"addressbook-multiget: HTTP {response.status_code}", system=self.system)
        found: dict[str, NativeRecord] = {}
        for entry in _parse_multistatus(response.content)[0]:
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

    def list_ids(self, entity: str) -> Iterator[str]:
        listing, _ = self._listing(entity)
        yield from sorted(listing)

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

    def _sync_collection(self, entity: str, token: str) -> tuple[list[_Entry], str | None] | None:
        """The changes since ``token``; None when the server refuses the token."""
        body = (
            f'<D:sync-collection xmlns:D="DAV:"><D:sync-token>{_xml_text(token)}</D:sync-token>'
            "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
        )
        response = self._report(self._collection(entity), body, depth="0")
        if response.status_code in (403, 409) and b"valid-sync-token" in response.content:
            return None
        if response.status_code != 207:
            raise ConnectorError(
                f"sync-collection: HTTP {response.status_code} {response.text[:200]}", system=self.system
            )
        return _parse_multistatus(response.content)

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
            stored = snapshots.hashes(sorted(listing)) if snapshots is not None else {}
            changed = [i for i in sorted(listing) if stored.get(i) != listing[i]]
            if snapshots is not None:
                deleted = sorted(set(snapshots.known_ids()) - set(listing))
        new_cursor = {"sync_token": new_token}
        old_cursor = dict(cursor) if isinstance(cursor, Mapping) else None
        batch = self._batch(entity)
        pages = [changed[start : start + batch] for start in range(0, len(changed), batch)]
        for number, ids in enumerate(pages):
            found = self._multiget(entity, ids)
            last = number == len(pages) - 1
            # A card changed in the sync answer but gone by the multiget was deleted meanwhile.
            vanished = [i for i in ids if i not in found]
            yield ChangePage(
                records=[found[i] for i in ids if i in found],
                deleted_ids=vanished + (deleted if last else []),
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


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

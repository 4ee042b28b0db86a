"""Tryton (8.x) over JSON-RPC with plain httpx.

Facts this module relies on (measured against trytond 8.2, see docs/connectors/tryton.md):

- ``POST <url>/<database>/rpc/``; errors come back as HTTP 200 with ``{"error": [type, details]}``.
- Every model call takes the user context as its last parameter.
- Every record has ``create_date``/``write_date`` (naive UTC, server clock) and a searchable
  ``last_modified_at`` (write date, else create date). Writing a child model (an address, a
  contact mechanism) does not touch the parent's dates, so the children are polled as well.
- Hard deletes are logged in ``ir.model.log`` (which model, not which id); archiving sets
  ``active = False``.
- Passing ``_timestamp`` {"model,id": timestamp} in the context makes the server refuse a write
  with ``ConcurrencyException`` when the record moved on: a native optimistic lock.

A *kind* (``party`` today; products, categories and employees later) says how one Tryton model
and its child models become flat native records; the connector around it does sessions, paging,
change detection, deletions and conditional writes for every kind alike.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from einklang.connectors._http import (
    RetryPolicy,
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

# Tryton error types that mean "this record/values are not acceptable", not "try again".
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

    def __init__(self, system: str, settings: Mapping[str, Any], transport: httpx.BaseTransport | None = None) -> None:
        self.system = system
        base = require_setting(settings, "url", system).rstrip("/")
        self.database = require_setting(settings, "database", system)
        self.user = require_setting(settings, "user", system)
        self.password = require_setting(settings, "password", system)
        self.language = str(settings.get("language", "en"))
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
        user_id, session, *_ = self._post("common.db.login", [self.user, {"password": self.password}, self.language])
        token = base64.b64encode(f"{self.user}:{user_id}:{session}".encode()).decode()
        self._authorization = f"Session {token}"
        preferences = self._post("model.res.user.get_preferences", [True, {}])
        # Only the keys the server uses for behaviour; the locale table is display-only noise.
        self.context = {
            key: value
            for key, value in preferences.items()
            if key in {"language", "company", "companies", "employee", "employees"}
        }

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


# --- kinds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildModel:
    model: str
    parent_field: str


@dataclass
class LoadedRecord:
    """A record as read for einklang: flat fields plus what conditional writes need."""

    record_id: int
    fields: dict[str, Any]
    active: bool
    # "model,id" -> Tryton's _timestamp, for the record and each child that shapes its fields
    timestamps: dict[str, str]
    children: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        # A hash, not the newest date: deleting a child changes no date but must change the
        # version, and the parent's own date says nothing about its children.
        digest = hashlib.sha256()
        for key in sorted(self.timestamps):
            digest.update(f"{key}={self.timestamps[key]};".encode())
        return digest.hexdigest()[:20]

    def native(self) -> NativeRecord:
        return NativeRecord(native_id=str(self.record_id), version=self.version, fields=dict(self.fields))


class ModelKind(abc.ABC):
    """How one Tryton model (and the child models folded into it) maps to flat records."""

    name: ClassVar[str]
    model: ClassVar[str]
    child_models: ClassVar[tuple[ChildModel, ...]] = ()
    has_active_flag: ClassVar[bool] = True
    flat_fields: ClassVar[tuple[str, ...]]

    def __init__(self, session: TrytonSession, options: Mapping[str, Any]) -> None:
        self.session = session
        self.options = options

    @abc.abstractmethod
    def load(self, ids: Sequence[int]) -> dict[int, LoadedRecord]:
        """Read the records with the given ids (archived ones included)."""

    @abc.abstractmethod
    def create_values(self, fields: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def write_values(self, current: LoadedRecord, patch: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def prefilter_domain(self, criteria: Mapping[str, Any]) -> list[Any]:
        """A server-side domain that every record matching ``criteria`` satisfies."""

    def changed_timestamps(self, current: LoadedRecord, patch: Mapping[str, Any]) -> dict[str, str]:
        """The ``_timestamp`` context entries for the rows a write of ``patch`` will touch."""
        return dict(current.timestamps)


class PartyKind(ModelKind):
    """``party.party`` with its main address and first email/phone/mobile/fax/website."""

    name = "party"
    model = "party.party"
    child_models = (ChildModel("party.address", "party"), ChildModel("party.contact_mechanism", "party"))
    address_fields: ClassVar[tuple[str, ...]] = ("street", "postal_code", "city", "country")
    mechanism_types: ClassVar[tuple[str, ...]] = ("email", "phone", "mobile", "fax", "website")
    party_fields: ClassVar[tuple[str, ...]] = ("name", "code")
    flat_fields = (*party_fields, *address_fields, *mechanism_types)
    # Structured street parts; written street text replaces them so that ``street`` reads back
    # exactly as written.
    structured_street_fields: ClassVar[tuple[str, ...]] = (
        "street_name",
        "building_name",
        "building_number",
        "unit_number",
        "floor_number",
        "room_number",
    )

    def __init__(self, session: TrytonSession, options: Mapping[str, Any]) -> None:
        super().__init__(session, options)
        self._country_ids: dict[str, int] = {}

    def load(self, ids: Sequence[int]) -> dict[int, LoadedRecord]:
        if not ids:
            return {}
        context = {"active_test": False}
        parties = self.session.model(
            self.model,
            "read",
            list(ids),
            ["name", "code", "active", "addresses", "contact_mechanisms", "_timestamp"],
            context=context,
        )
        # The One2Many lists arrive in Tryton's own order (sequence, id) and without archived
        # children, so their first element is what Tryton itself treats as "main".
        address_ids = [party["addresses"][0] for party in parties if party["addresses"]]
        mechanism_ids = [mid for party in parties for mid in party["contact_mechanisms"]]
        addresses = (
            {
                row["id"]: row
                for row in self.session.model(
                    "party.address",
                    "read",
                    address_ids,
                    ["street", "postal_code", "city", "country.code", "_timestamp"],
                    context=context,
                )
            }
            if address_ids
            else {}
        )
        mechanisms = (
            {
                row["id"]: row
                for row in self.session.model(
                    "party.contact_mechanism",
                    "read",
                    mechanism_ids,
                    ["type", "value", "_timestamp"],
                    context=context,
                )
            }
            if mechanism_ids
            else {}
        )
        loaded: dict[int, LoadedRecord] = {}
        for party in parties:
            flat: dict[str, Any] = {"name": party["name"], "code": party["code"]}
            timestamps = {f"{self.model},{party['id']}": str(party["_timestamp"])}
            children: dict[str, Any] = {"address": None, "mechanisms": {}}
            address = addresses.get(party["addresses"][0]) if party["addresses"] else None
            if address:
                children["address"] = address["id"]
                timestamps[f"party.address,{address['id']}"] = str(address["_timestamp"])
                country = address.get("country.") or {}
                flat.update(
                    street=address["street"] or None,
                    postal_code=address["postal_code"] or None,
                    city=address["city"] or None,
                    country=country.get("code"),
                )
            else:
                flat.update(dict.fromkeys(self.address_fields))
            for mechanism_type in self.mechanism_types:
                flat[mechanism_type] = None
            for mechanism_id in party["contact_mechanisms"]:
                mechanism = mechanisms[mechanism_id]
                # Every mechanism counts for the version: a second e-mail added or deleted is
                # not visible in the flat record, but it is a change to the party in Tryton.
                timestamps[f"party.contact_mechanism,{mechanism_id}"] = str(mechanism["_timestamp"])
                kind = mechanism["type"]
                if kind in self.mechanism_types and flat[kind] is None:
                    flat[kind] = mechanism["value"]
                    children["mechanisms"][kind] = mechanism_id
            loaded[party["id"]] = LoadedRecord(party["id"], flat, bool(party["active"]), timestamps, children)
        return loaded

    def _country_id(self, code: Any) -> int | None:
        if code in (None, ""):
            return None
        code = str(code).upper()
        if code not in self._country_ids:
            found = self.session.model("country.country", "search", [["code", "=", code]], 0, 1, None)
            if not found:
                raise RecordRejected(
                    f"country {code!r} does not exist in Tryton (country.country)", system=self.session.system
                )
            self._country_ids[code] = found[0]
        return self._country_ids[code]

    def _address_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "street" in fields:
            values["street_unstructured"] = fields["street"] or None
            values.update(dict.fromkeys(self.structured_street_fields))
        for name in ("postal_code", "city"):
            if name in fields:
                values[name] = fields[name] or None
        if "country" in fields:
            values["country"] = self._country_id(fields["country"])
        return values

    def _check_fields(self, fields: Mapping[str, Any]) -> None:
        unknown = set(fields) - set(self.flat_fields)
        if unknown:
            raise RecordRejected(
                f"unknown party fields: {', '.join(sorted(unknown))} (known: {', '.join(self.flat_fields)})",
                system=self.session.system,
            )

    def create_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        self._check_fields(fields)
        values: dict[str, Any] = {name: fields[name] for name in self.party_fields if fields.get(name)}
        address = self._address_values({key: fields[key] for key in self.address_fields if key in fields})
        if any(value is not None for value in address.values()):
            values["addresses"] = [["create", [address]]]
        mechanisms = [{"type": kind, "value": fields[kind]} for kind in self.mechanism_types if fields.get(kind)]
        if mechanisms:
            values["contact_mechanisms"] = [["create", mechanisms]]
        return values

    def write_values(self, current: LoadedRecord, patch: Mapping[str, Any]) -> dict[str, Any]:
        self._check_fields(patch)
        values: dict[str, Any] = {name: patch[name] for name in self.party_fields if name in patch}
        if "name" in values and not values["name"]:
            raise RecordRejected("a party needs a name", system=self.session.system, record_id=str(current.record_id))
        address_patch = {key: patch[key] for key in self.address_fields if key in patch}
        if address_patch:
            address_values = self._address_values(address_patch)
            if current.children["address"] is not None:
                values["addresses"] = [["write", [current.children["address"]], address_values]]
            elif any(value is not None for value in address_values.values()):
                values["addresses"] = [["create", [address_values]]]
        commands: list[Any] = []
        for kind in self.mechanism_types:
            if kind not in patch:
                continue
            existing = current.children["mechanisms"].get(kind)
            wanted = patch[kind]
            if existing is not None and wanted:
                commands.append(["write", [existing], {"value": wanted}])
            elif existing is not None:
                commands.append(["delete", [existing]])
            elif wanted:
                commands.append(["create", [{"type": kind, "value": wanted}]])
        if commands:
            values["contact_mechanisms"] = commands
        return values

    def prefilter_domain(self, criteria: Mapping[str, Any]) -> list[Any]:
        self._check_fields(criteria)
        domain: list[Any] = []
        for name, value in criteria.items():
            if value is None:
                continue  # "empty" is checked on the flat record; domains on main-ness are not
            if name in self.party_fields:
                domain.append([name, "=", value])
            elif name == "country":
                domain.append(["addresses.country.code", "=", str(value).upper()])
            elif name == "street":
                domain.append(["addresses.street", "=", value])
            elif name in self.address_fields:
                domain.append([f"addresses.{name}", "=", value])
            else:
                domain.append(["contact_mechanisms", "where", [["type", "=", name], ["value", "=", value]]])
        return domain


KINDS: dict[str, type[ModelKind]] = {PartyKind.name: PartyKind}


# --- cursors ------------------------------------------------------------------------------------

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_MAX_RECENT_VERSIONS = 1000


def _compress_ids(ids: Sequence[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs: Tryton ids are sequential, so this stays tiny."""
    runs: list[list[int]] = []
    for record_id in sorted(set(ids)):
        if runs and record_id == runs[-1][1] + 1:
            runs[-1][1] = record_id
        else:
            runs.append([record_id, record_id])
    return runs


def _expand_ids(runs: Sequence[Sequence[int]]) -> set[int]:
    return {record_id for first, last in runs for record_id in range(first, last + 1)}


# --- connector --------------------------------------------------------------------------------


class TrytonConnector(Connector):
    """Settings: url, database, user, password, [language, timeout, overlap_seconds, retry_*].

    Entity options: ``kind`` (default: the entity name; known: party),
    ``delete_mode`` ``archive`` (default) or ``delete``.
    """

    def __init__(
        self,
        system: str,
        settings: Mapping[str, Any],
        entities: Mapping[str, Mapping[str, Any]],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(system, settings, entities)
        self.session = TrytonSession(system, self.settings, transport=transport)
        self.overlap = timedelta(seconds=float(self.settings.get("overlap_seconds", 10)))
        self.kinds: dict[str, ModelKind] = {}
        for entity, options in self.entity_options.items():
            kind_name = str(options.get("kind", entity))
            if kind_name not in KINDS:
                raise ConfigurationError(
                    f"entity {entity!r}: unknown Tryton kind {kind_name!r} (known: {', '.join(sorted(KINDS))})",
                    system=system,
                )
            delete_mode = options.get("delete_mode", "archive")
            if delete_mode not in ("archive", "delete"):
                raise ConfigurationError(f"entity {entity!r}: delete_mode must be archive or delete", system=system)
            self.kinds[entity] = KINDS[kind_name](self.session, options)

    def _kind(self, entity: str) -> ModelKind:
        try:
            return self.kinds[entity]
        except KeyError:
            raise ConfigurationError(f"entity {entity!r} is not configured", system=self.system) from None

    def capabilities(self, entity: str) -> Capabilities:
        self._kind(entity)
        return Capabilities(
            change_detection=ChangeDetection.TIMESTAMP,
            reports_deletions=True,
            conditional_writes=True,
            batch_size=200,
        )

    def check(self) -> str:
        version = self.session.server_version()
        self.session.login()
        for entity, kind in self.kinds.items():
            try:
                self.session.model(kind.model, "search", [], 0, 1, None)
            except TrytonError as missing:
                raise ConfigurationError(
                    f"entity {entity!r}: model {kind.model} not usable: {missing}", system=self.system
                ) from missing
        try:
            self.session.model("ir.model.log", "search", [], 0, 1, None)
        except (TrytonError, RecordRejected) as hidden:
            # Hard deletes are only found through this log.
            raise ConfigurationError(
                f"user {self.session.user!r} cannot read ir.model.log: {hidden}", system=self.system
            ) from hidden
        return f"Tryton {version}, database {self.session.database}, entities {', '.join(self.kinds)}"

    def close(self) -> None:
        self.session.close()

    # --- reading --------------------------------------------------------------------------

    def _search_ids(
        self,
        model: str,
        domain: list[Any],
        *,
        include_archived: bool,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[int]:
        context = {"active_test": False} if include_archived else None
        ids: list[int] = self.session.model(model, "search", domain, offset, limit, [["id", "ASC"]], context=context)
        return ids

    def _load_existing(self, kind: ModelKind, ids: Sequence[int]) -> dict[int, LoadedRecord]:
        """``kind.load`` that tolerates records deleted between the search and the read."""
        try:
            return kind.load(ids)
        except RecordRejected:
            # Tryton refuses to read a missing id; ask which still exist and read those.
            existing = self._search_ids(kind.model, [["id", "in", list(ids)]], include_archived=True)
            return kind.load(existing)

    def read_all(self, entity: str, page_size: int = 1000) -> Iterator[list[NativeRecord]]:
        kind = self._kind(entity)
        last_id = 0
        while True:
            # Keyset paging by id: stable even while records are added behind our back.
            ids = self._search_ids(kind.model, [["id", ">", last_id]], include_archived=False, limit=page_size)
            if not ids:
                return
            loaded = self._load_existing(kind, ids)
            yield [loaded[record_id].native() for record_id in ids if record_id in loaded]
            last_id = ids[-1]

    def list_ids(self, entity: str) -> Iterator[str]:
        kind = self._kind(entity)
        for record_id in self._search_ids(kind.model, [], include_archived=False):
            yield str(record_id)

    def get(self, entity: str, native_ids: Sequence[str]) -> dict[str, NativeRecord]:
        kind = self._kind(entity)
        wanted = [int(native_id) for native_id in native_ids if str(native_id).isdigit()]
        existing = (
            set(self._search_ids(kind.model, [["id", "in", wanted]], include_archived=False)) if wanted else set()
        )
        loaded = kind.load(sorted(existing))
        return {str(record_id): record.native() for record_id, record in loaded.items() if record.active}

    def find(self, entity: str, criteria: Mapping[str, Any], limit: int = 10) -> list[NativeRecord]:
        kind = self._kind(entity)
        ids = self._search_ids(kind.model, kind.prefilter_domain(criteria), include_archived=False)
        found: list[NativeRecord] = []
        for batch in _batches(ids, 200):
            for _record_id, record in sorted(self._load_existing(kind, batch).items()):
                # The domain matched *any* address/mechanism; equality is on the flat record.
                if all(record.fields.get(name) == value for name, value in criteria.items()):
                    found.append(record.native())
                    if len(found) >= limit:
                        return found
        return found

    def read_changes(
        self, entity: str, cursor: JsonValue, snapshots: SnapshotStore | None = None
    ) -> Iterator[ChangePage]:
        kind = self._kind(entity)
        since = datetime.strptime(cursor["since"], _TIMESTAMP_FORMAT) if cursor and cursor.get("since") else None
        known_ids = _expand_ids(cursor.get("ids", [])) if cursor else set()
        # Versions of the records read last time: the overlap window reads them again, but
        # unchanged they are not news (a quiet Tryton costs a few searches, no records).
        seen_versions: dict[str, str] = dict(cursor.get("recent", {})) if cursor else {}
        loaded_versions: dict[str, str] = {}
        newest = since

        changed: set[int] = set()
        if since is None:
            changed.update(self._search_ids(kind.model, [], include_archived=True))
        else:
            query_from = encode_datetime(since - self.overlap)
            domain = [["last_modified_at", ">=", query_from]]
            changed.update(self._search_ids(kind.model, domain, include_archived=True))
            for child in kind.child_models:
                rows = self.session.model(
                    child.model,
                    "search_read",
                    domain,
                    0,
                    None,
                    None,
                    [child.parent_field],
                    context={"active_test": False},
                )
                changed.update(row[child.parent_field] for row in rows if row[child.parent_field])

        # Deletions: the log says *that* a model lost records (not which), so it is read by
        # log id (each entry handled once) and only then is the id set compared.
        seen_log_id = int(cursor.get("log_id", 0)) if cursor else 0
        deleted: set[int] = set()
        new_log_id, deleted_models = self._deletion_log(kind, seen_log_id)
        if since is not None and deleted_models:
            live_ids = set(self._search_ids(kind.model, [], include_archived=False))
            deleted = known_ids - live_ids
            if deleted_models - {kind.model}:
                # A child deleted on its own leaves no trace on its parent, and the log no
                # longer says which parent it had: re-read all live parents (rare, but exact).
                changed.update(live_ids)

        pages = list(_batches(sorted(changed), 200))
        live_after = set(known_ids)
        reported_deleted: set[int] = set()
        for page_number, batch in enumerate(pages):
            loaded = self._load_existing(kind, batch)
            records: list[NativeRecord] = []
            page_deleted: list[str] = []
            for record_id in batch:
                record = loaded.get(record_id)
                if record is None:  # deleted between search and read
                    if record_id in known_ids:
                        page_deleted.append(str(record_id))
                    live_after.discard(record_id)
                    continue
                if record.active:
                    loaded_versions[str(record_id)] = record.version
                    if seen_versions.get(str(record_id)) != record.version:
                        records.append(record.native())
                    live_after.add(record_id)
                else:
                    # Archived: gone for the other systems; reported once, while still known.
                    if record_id in known_ids:
                        page_deleted.append(str(record_id))
                    live_after.discard(record_id)
            reported_deleted.update(int(record_id) for record_id in page_deleted)
            newest = _max_datetime(newest, self._newest_timestamp(kind, batch))
            is_last = page_number == len(pages) - 1
            if is_last:
                page_deleted.extend(str(record_id) for record_id in sorted(deleted - reported_deleted))
                live_after -= deleted
            # Until the last page is stored, resuming must start over from the old cursor.
            cursor_after = (
                self._cursor(newest, live_after, new_log_id, loaded_versions)
                if is_last
                else self._cursor(since, known_ids, seen_log_id, seen_versions)
            )
            yield ChangePage(records=records, deleted_ids=page_deleted, cursor=cursor_after)
        if not pages:
            live_after -= deleted
            yield ChangePage(
                deleted_ids=[str(record_id) for record_id in sorted(deleted)],
                cursor=self._cursor(newest, live_after, new_log_id, seen_versions),
            )

    def _cursor(
        self, since: datetime | None, live_ids: set[int], log_id: int, recent_versions: dict[str, str]
    ) -> JsonValue:
        return {
            "since": since.strftime(_TIMESTAMP_FORMAT) if since else None,
            "ids": _compress_ids(sorted(live_ids)),
            "log_id": log_id,
            # Bounded: after a large read the next window is simply re-sent (overlap is allowed).
            "recent": recent_versions if len(recent_versions) <= _MAX_RECENT_VERSIONS else {},
        }

    def _newest_timestamp(self, kind: ModelKind, parent_ids: Sequence[int]) -> datetime | None:
        """The server-clock time of the newest change among these parents and their children."""
        newest: datetime | None = None
        context = {"active_test": False}
        rows = self.session.model(
            kind.model,
            "search_read",
            [["id", "in", list(parent_ids)]],
            0,
            None,
            [["last_modified_at", "DESC"]],
            ["last_modified_at"],
            context=context,
        )
        for row in rows[:1]:
            newest = _max_datetime(newest, row["last_modified_at"])
        for child in kind.child_models:
            rows = self.session.model(
                child.model,
                "search_read",
                [[child.parent_field, "in", list(parent_ids)]],
                0,
                1,
                [["last_modified_at", "DESC"]],
                ["last_modified_at"],
                context=context,
            )
            for row in rows:
                newest = _max_datetime(newest, row["last_modified_at"])
        return newest

    def _deletion_log(self, kind: ModelKind, after_log_id: int) -> tuple[int, set[str]]:
        """The newest ``ir.model.log`` id, and which of the kind's models lost records since ``after_log_id``."""
        # The upper bound is fixed first so that an entry logged while we ask is left for next time.
        newest = self.session.model("ir.model.log", "search", [], 0, 1, [["id", "DESC"]])
        newest_id = max([after_log_id, *newest])
        if newest_id == after_log_id:
            return newest_id, set()
        deleted_models = set()
        for model in (kind.model, *(child.model for child in kind.child_models)):
            # ``resource`` reads as null once its record is gone, but it can still be searched.
            domain = [
                ["id", ">", after_log_id],
                ["id", "<=", newest_id],
                ["event", "=", "delete"],
                ["resource", "like", f"{model},%"],
            ]
            if self.session.model("ir.model.log", "search", domain, 0, 1, None):
                deleted_models.add(model)
        return newest_id, deleted_models

    # --- writing --------------------------------------------------------------------------

    def _load_one(self, kind: ModelKind, native_id: str) -> LoadedRecord:
        # Reading a missing id is an error in Tryton, so existence is asked first.
        exists = native_id.isdigit() and self._search_ids(
            kind.model, [["id", "=", int(native_id)]], include_archived=True
        )
        record = kind.load([int(native_id)]).get(int(native_id)) if exists else None
        if record is None or not record.active:
            raise RecordNotFound(f"{kind.model} {native_id} does not exist", system=self.system, record_id=native_id)
        return record

    def create(self, entity: str, records: Sequence[Mapping[str, Any]]) -> list[NativeRecord]:
        kind = self._kind(entity)
        if not records:
            return []
        try:
            values = [kind.create_values(record) for record in records]
            ids: list[int] = self.session.model(kind.model, "create", values)
        except RecordRejected:
            # The batch is one Tryton transaction: nothing was created, so the engine may
            # send the records again one by one to find the one refused.
            raise
        loaded = kind.load(ids)
        return [loaded[record_id].native() for record_id in ids]

    def update(
        self, entity: str, native_id: str, patch: Mapping[str, Any], expected_version: str | None
    ) -> NativeRecord:
        kind = self._kind(entity)
        current = self._load_one(kind, native_id)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(
                f"{kind.model} {native_id} changed since version {expected_version}",
                system=self.system,
                record_id=native_id,
            )
        values = kind.write_values(current, patch)
        if values:
            # _timestamp makes Tryton itself refuse the write if anything moved between our
            # read and this write (closes the gap the re-read above leaves open).
            try:
                self.session.model(
                    kind.model,
                    "write",
                    [current.record_id],
                    values,
                    context={"_timestamp": kind.changed_timestamps(current, patch)},
                )
            except ConnectorError as failed:
                failed.record_id = native_id
                raise
        return self._load_one(kind, native_id).native()

    def delete(self, entity: str, native_id: str, expected_version: str | None) -> None:
        kind = self._kind(entity)
        current = self._load_one(kind, native_id)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(
                f"{kind.model} {native_id} changed since version {expected_version}",
                system=self.system,
                record_id=native_id,
            )
        context = {
            "_timestamp": {f"{kind.model},{current.record_id}": current.timestamps[f"{kind.model},{current.record_id}"]}
        }
        if self.entity_options[entity].get("delete_mode", "archive") == "delete" or not kind.has_active_flag:
            self.session.model(kind.model, "delete", [current.record_id], context=context)
        else:
            self.session.model(kind.model, "write", [current.record_id], {"active": False}, context=context)


def _batches(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _max_datetime(left: datetime | None, right: datetime | None) -> datetime | None:
    if left is None:
        return right
    if right is None:
        return left
    return max(left, right)

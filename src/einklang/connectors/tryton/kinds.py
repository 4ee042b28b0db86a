"""Kinds: how one Tryton model and the child models folded into it become flat native records."""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from einklang.connectors.base import (
    NativeRecord,
    RecordRejected,
)
from einklang.connectors.tryton.options import TrytonEntityOptions
from einklang.connectors.tryton.wire import TrytonSession

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


@dataclass(frozen=True)
class RelatedModel:
    """A model the kind's model points to (``path`` from the kind's model), folded in as well."""

    model: str
    path: str


def mechanism_commands(types: Sequence[str], patch: Mapping[str, Any], existing: Mapping[str, Any]) -> list[Any]:
    """Tryton's one2many commands that bring a party's contact mechanisms (e-mail, phone ...) to
    the values in ``patch``: write the one there, delete it when emptied, create it when new."""
    commands: list[Any] = []
    for kind in types:
        if kind not in patch:
            continue
        current, wanted = existing.get(kind), patch[kind]
        if current is not None and wanted:
            commands.append(["write", [current], {"value": wanted}])
        elif current is not None:
            commands.append(["delete", [current]])
        elif wanted:
            commands.append(["create", [{"type": kind, "value": wanted}]])
    return commands


class ModelKind(abc.ABC):
    """How one Tryton model (and the child models folded into it) maps to flat records."""

    name: ClassVar[str]
    model: ClassVar[str]
    child_models: ClassVar[tuple[ChildModel, ...]] = ()
    # Models reached through a Many2One (an employee's party): their changes are changes too.
    related_models: ClassVar[tuple[RelatedModel, ...]] = ()
    has_active_flag: ClassVar[bool] = True
    flat_fields: ClassVar[tuple[str, ...]]

    def __init__(self, session: TrytonSession, options: TrytonEntityOptions) -> None:
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

    def create(self, values: list[dict[str, Any]]) -> list[int]:
        """Create the records (one Tryton transaction, unless a kind says otherwise)."""
        ids: list[int] = self.session.model(self.model, "create", values)
        return ids

    def write(self, current: LoadedRecord, values: dict[str, Any], timestamps: dict[str, str]) -> None:
        """Write ``values`` to the record, refused by Tryton if a row in ``timestamps`` moved."""
        self.session.model(self.model, "write", [current.record_id], values, context={"_timestamp": timestamps})

    def archive_values(self) -> dict[str, Any]:
        """What archiving writes (a kind without an ``active`` column says otherwise)."""
        return {"active": False}


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

    def __init__(self, session: TrytonSession, options: TrytonEntityOptions) -> None:
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
        commands = mechanism_commands(self.mechanism_types, patch, current.children["mechanisms"])
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

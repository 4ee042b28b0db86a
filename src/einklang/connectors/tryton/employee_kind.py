"""The employee kind: ``company.employee`` with its party's name, e-mail and phone folded in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from einklang.connectors.base import ConnectorError, RecordRejected
from einklang.connectors.tryton.kinds import LoadedRecord, ModelKind, RelatedModel, mechanism_commands


def _date(value: Any, field_name: str, system: str) -> dict[str, Any] | None:
    """An ISO date (text or date) as Tryton's JSON-RPC wants it."""
    if value in (None, ""):
        return None
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        raise RecordRejected(f"{field_name} must be a date (YYYY-MM-DD), not {value!r}", system=system) from None
    return {"__class__": "date", "year": day.year, "month": day.month, "day": day.day}


class EmployeeKind(ModelKind):
    """``company.employee``: the party's name and first e-mail/phone, the start and end dates.

    Tryton computes ``active`` from the dates (today between start and end): an employee past
    the end date is archived for einklang (a deletion for the other systems), and archiving one
    through einklang writes yesterday as the end date; nothing is ever deleted unless
    ``delete_mode: delete``. The party is a separate Tryton record: a new employee is created as
    party, then employee (the party is removed again if the employee is refused).
    """

    name = "employee"
    model = "company.employee"
    related_models = (
        RelatedModel("party.party", "party"),
        RelatedModel("party.contact_mechanism", "party.contact_mechanisms"),
    )
    mechanism_types: ClassVar[tuple[str, ...]] = ("email", "phone")
    date_fields: ClassVar[tuple[str, ...]] = ("start_date", "end_date")
    flat_fields = ("name", *mechanism_types, *date_fields)

    def _check_fields(self, fields: Mapping[str, Any]) -> None:
        unknown = set(fields) - set(self.flat_fields)
        if unknown:
            raise RecordRejected(
                f"unknown employee fields: {', '.join(sorted(unknown))} (known: {', '.join(self.flat_fields)})",
                system=self.session.system,
            )

    def load(self, ids: Sequence[int]) -> dict[int, LoadedRecord]:
        if not ids:
            return {}
        context = {"active_test": False}
        fields = ["party", "start_date", "end_date", "active", "_timestamp"]
        employees = self.session.model(self.model, "read", list(ids), fields, context=context)
        party_ids = sorted({employee["party"] for employee in employees})
        parties = {
            row["id"]: row
            for row in self.session.model(
                "party.party", "read", party_ids, ["name", "contact_mechanisms", "_timestamp"], context=context
            )
        }
        mechanism_ids = [mid for party in parties.values() for mid in party["contact_mechanisms"]]
        mechanisms = (
            {
                row["id"]: row
                for row in self.session.model(
                    "party.contact_mechanism", "read", mechanism_ids, ["type", "value", "_timestamp"], context=context
                )
            }
            if mechanism_ids
            else {}
        )
        loaded: dict[int, LoadedRecord] = {}
        for employee in employees:
            party = parties[employee["party"]]
            flat: dict[str, Any] = {
                "name": party["name"],
                "start_date": employee["start_date"],
                "end_date": employee["end_date"],
                **dict.fromkeys(self.mechanism_types),
            }
            timestamps = {
                f"{self.model},{employee['id']}": str(employee["_timestamp"]),
                f"party.party,{party['id']}": str(party["_timestamp"]),
            }
            children: dict[str, Any] = {"party": party["id"], "mechanisms": {}}
            for mechanism_id in party["contact_mechanisms"]:
                mechanism = mechanisms[mechanism_id]
                timestamps[f"party.contact_mechanism,{mechanism_id}"] = str(mechanism["_timestamp"])
                kind = mechanism["type"]
                if kind in self.mechanism_types and flat[kind] is None:
                    flat[kind] = mechanism["value"]
                    children["mechanisms"][kind] = mechanism_id
            loaded[employee["id"]] = LoadedRecord(employee["id"], flat, bool(employee["active"]), timestamps, children)
        return loaded

    def _employee_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {name: _date(fields[name], name, self.session.system) for name in self.date_fields if name in fields}

    def create_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        self._check_fields(fields)
        if not fields.get("name"):
            raise RecordRejected("an employee needs a name", system=self.session.system)
        party: dict[str, Any] = {"name": fields["name"]}
        mechanisms = [{"type": kind, "value": fields[kind]} for kind in self.mechanism_types if fields.get(kind)]
        if mechanisms:
            party["contact_mechanisms"] = [["create", mechanisms]]
        company = self.session.company()
        if not company:
            raise RecordRejected(
                "an employee belongs to a company, and the connector's user has no current company",
                system=self.session.system,
            )
        values = {name: value for name, value in self._employee_values(fields).items() if value is not None}
        return {"party": party, "company": company, **values}

    def create(self, values: list[dict[str, Any]]) -> list[int]:
        # The party is its own record (a Many2One cannot be created nested): party and employee
        # are created one after the other, and the party is removed if the employee is refused.
        ids: list[int] = []
        for record in values:
            [party_id] = self.session.model("party.party", "create", [record["party"]])
            try:
                [employee_id] = self.session.model(self.model, "create", [{**record, "party": party_id}])
            except ConnectorError:
                self.session.model("party.party", "delete", [party_id])
                raise
            ids.append(employee_id)
        return ids

    def write_values(self, current: LoadedRecord, patch: Mapping[str, Any]) -> dict[str, Any]:
        self._check_fields(patch)
        values: dict[str, Any] = {"employee": self._employee_values(patch), "party": {}}
        if "name" in patch:
            if not patch["name"]:
                raise RecordRejected(
                    "an employee needs a name", system=self.session.system, record_id=str(current.record_id)
                )
            values["party"]["name"] = patch["name"]
        commands = mechanism_commands(self.mechanism_types, patch, current.children["mechanisms"])
        if commands:
            values["party"]["contact_mechanisms"] = commands
        return values if values["employee"] or values["party"] else {}

    def write(self, current: LoadedRecord, values: dict[str, Any], timestamps: dict[str, str]) -> None:
        # Two writes, each refused by Tryton if its rows moved since they were read.
        if values["party"]:
            party_rows = {key: stamp for key, stamp in timestamps.items() if key.startswith("party.")}
            self.session.model(
                "party.party",
                "write",
                [current.children["party"]],
                values["party"],
                context={"_timestamp": party_rows},
            )
        if values["employee"]:
            own = f"{self.model},{current.record_id}"
            self.session.model(
                self.model,
                "write",
                [current.record_id],
                values["employee"],
                context={"_timestamp": {own: timestamps[own]}},
            )

    def archive_values(self) -> dict[str, Any]:
        # ``active`` is computed from the dates, and the end date is the last working day: an
        # employee archived today gets yesterday, so that they are inactive at once.
        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        return {"end_date": _date(yesterday, "end_date", self.session.system)}

    def prefilter_domain(self, criteria: Mapping[str, Any]) -> list[Any]:
        self._check_fields(criteria)
        domain: list[Any] = []
        for name, value in criteria.items():
            if value is None:
                continue  # "empty" is checked on the flat record
            if name == "name":
                domain.append(["party.name", "=", value])
            elif name in self.date_fields:
                domain.append([name, "=", _date(value, name, self.session.system)])
            else:
                domain.append(["party.contact_mechanisms", "where", [["type", "=", name], ["value", "=", value]]])
        return domain

"""The Tryton employee kind against a real trytond (fresh copy per test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from einklang.connectors.base import ChangePage, RecordRejected, StaleVersion
from einklang.connectors.tryton import TrytonConnector, TrytonSession
from einklang.testing.contract import BackDoor, ConnectorContract, RenamedFields, live_ids

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, tryton_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, tryton_server  # type: ignore[no-redef]

pytestmark = pytest.mark.integration
__all__ = ["tryton_server"]

# The contract's three text fields, as an employee has them.
EMPLOYEE_ROLES = {"name": "name", "email": "email", "city": "phone"}


def session_for(server: RunningServer, system: str) -> TrytonSession:
    return TrytonSession(
        system,
        {
            "url": server.url,
            "database": server.info["database"],
            "user": server.info["user"],
            "password": server.info["password"],
        },
    )


def give_admin_a_company(server: RunningServer) -> None:
    """A fresh Tryton has no company; employees belong to one, so the user needs one."""
    session = session_for(server, "setup")
    if not session.model("company.company", "search", [], 0, 1, None):
        [euro] = session.model("currency.currency", "create", [{"name": "Euro", "code": "EUR", "symbol": "€"}])
        [party] = session.model("party.party", "create", [{"name": "Einklang Handel GmbH"}])
        [company] = session.model("company.company", "create", [{"party": party, "currency": euro}])
        [user] = session.model("res.user", "search", [["login", "=", server.info["user"]]], 0, 1, None)
        session.model("res.user", "write", [user], {"companies": [["add", [company]]], "company": company})
    session.close()


def make_connector(server: RunningServer, overlap_seconds: float = 0) -> TrytonConnector:
    give_admin_a_company(server)
    return TrytonConnector(
        "erp",
        {
            "url": server.url,
            "database": server.info["database"],
            "user": server.info["user"],
            "password": server.info["password"],
            "overlap_seconds": overlap_seconds,
        },
        {"employee": {}},
    )


@pytest.fixture
def tryton(tryton_server: RunningServer) -> Iterator[TrytonConnector]:
    connector = make_connector(tryton_server)
    yield connector
    connector.close()


def drain(connector: TrytonConnector, cursor: Any) -> tuple[dict[str, dict[str, Any]], list[str], Any]:
    records: dict[str, dict[str, Any]] = {}
    deleted: list[str] = []
    page = ChangePage()
    for page in connector.read_changes("employee", cursor):
        records.update({record.native_id: dict(record.fields) for record in page.records})
        deleted.extend(page.deleted_ids)
    return records, deleted, page.cursor


def test_employee_folds_party_and_dates(tryton: TrytonConnector) -> None:
    [anna] = tryton.create(
        "employee",
        [{"name": "Anna Alt", "email": "anna@firma.example", "phone": "+49 30 111", "start_date": "2020-04-01"}],
    )
    assert anna.fields == {
        "name": "Anna Alt",
        "email": "anna@firma.example",
        "phone": "+49 30 111",
        "start_date": "2020-04-01",
        "end_date": None,
    }
    party_id = tryton.session.model("company.employee", "read", [int(anna.native_id)], ["party"])[0]["party"]
    assert tryton.session.model("party.party", "read", [party_id], ["name"])[0]["name"] == "Anna Alt"
    renamed = tryton.update("employee", anna.native_id, {"name": "Anna Neu", "phone": None}, anna.version)
    assert renamed.fields["name"] == "Anna Neu" and renamed.fields["phone"] is None
    with pytest.raises(StaleVersion):
        tryton.update("employee", anna.native_id, {"email": "x@firma.example"}, anna.version)
    assert [r.native_id for r in tryton.find("employee", {"email": "anna@firma.example"})] == [anna.native_id]
    with pytest.raises(RecordRejected, match="start_date must be a date"):
        tryton.create("employee", [{"name": "Bad", "start_date": "April"}])
    with pytest.raises(RecordRejected, match="unknown employee fields: salary"):
        tryton.create("employee", [{"name": "Odd", "salary": 1}])


def test_refused_employee_leaves_no_party(tryton: TrytonConnector) -> None:
    parties_before = tryton.session.model("party.party", "search_count", [])
    with pytest.raises(RecordRejected):  # Tryton's own domain: the end is before the start
        tryton.create("employee", [{"name": "Zeitreisend", "start_date": "2024-05-01", "end_date": "2024-01-01"}])
    assert tryton.session.model("party.party", "search_count", []) == parties_before
    assert live_ids(tryton, "employee") == []


def test_leaving_is_an_end_date_and_a_deletion_for_the_others(tryton: TrytonConnector) -> None:
    [stays, leaves, left] = tryton.create(
        "employee", [{"name": "Bleibt"}, {"name": "Geht"}, {"name": "Weg", "end_date": "2001-12-31"}]
    )
    records, _, cursor = drain(tryton, None)
    assert set(records) == {stays.native_id, leaves.native_id}  # past end date: not live
    tryton.delete("employee", leaves.native_id, leaves.version)  # archive: an end date, no delete
    records, deleted, cursor = drain(tryton, cursor)
    assert deleted == [leaves.native_id]
    end = tryton.session.model("company.employee", "read", [int(leaves.native_id)], ["end_date"])[0]["end_date"]
    assert end is not None
    assert live_ids(tryton, "employee") == [stays.native_id]
    assert left.fields["end_date"] == "2001-12-31"


# --- the shared connector contract ---------------------------------------------------------------


class EmployeeBackDoor(BackDoor):
    """Another Tryton user editing employees and their parties; speaks the contract's names."""

    def __init__(self, server: RunningServer) -> None:
        self.session = session_for(server, "backdoor")

    def _party(self, native_id: str) -> int:
        return int(self.session.model("company.employee", "read", [int(native_id)], ["party"])[0]["party"])

    def insert(self, fields: Any) -> str:
        mechanisms = [
            {"type": kind, "value": fields[role]}
            for role, kind in (("email", "email"), ("city", "phone"))
            if fields.get(role)
        ]
        party: dict[str, Any] = {"name": fields["name"]}
        if mechanisms:
            party["contact_mechanisms"] = [["create", mechanisms]]
        [party_id] = self.session.model("party.party", "create", [party])
        company = self.session.model("company.company", "search", [], 0, 1, None)[0]
        return str(self.session.model("company.employee", "create", [{"party": party_id, "company": company}])[0])

    def update(self, native_id: str, fields: Any) -> None:
        # On the party and its mechanisms only: the employee's write_date stays as it was.
        party_id = self._party(native_id)
        if "name" in fields:
            self.session.model("party.party", "write", [party_id], {"name": fields["name"]})
        for role, kind in (("email", "email"), ("city", "phone")):
            if role not in fields:
                continue
            found = self.session.model(
                "party.contact_mechanism", "search", [["party", "=", party_id], ["type", "=", kind]], 0, 1, None
            )
            if found:
                self.session.model("party.contact_mechanism", "write", found, {"value": fields[role]})
            else:
                self.session.model(
                    "party.contact_mechanism", "create", [{"party": party_id, "type": kind, "value": fields[role]}]
                )

    def delete(self, native_id: str) -> None:
        self.session.model("company.employee", "delete", [int(native_id)])

    def read(self, native_id: str) -> dict[str, Any] | None:
        # As a Tryton user sees it: an employee past the end date is not listed.
        if not self.session.model("company.employee", "search", [["id", "=", int(native_id)]], 0, 1, None):
            return None
        party = self.session.model("party.party", "read", [self._party(native_id)], ["name", "email", "phone"])[0]
        return {"name": party["name"], "email": party["email"] or None, "city": party["phone"] or None}


@pytest.mark.integration
class TestTrytonEmployeeContract(ConnectorContract):
    entity = "employee"

    @pytest.fixture
    def connector(self, tryton_server: RunningServer) -> Iterator[RenamedFields]:  # type: ignore[override]
        connector = RenamedFields(make_connector(tryton_server, overlap_seconds=10), "employee", EMPLOYEE_ROLES)
        yield connector
        connector.close()

    @pytest.fixture
    def backdoor(self, tryton_server: RunningServer) -> BackDoor:
        return EmployeeBackDoor(tryton_server)

"""The Tryton connector against a real trytond 8.2 (fresh template copy per test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from einklang.connectors.base import ChangePage, RecordNotFound, RecordRejected, StaleVersion, load_connector_class
from einklang.connectors.tryton import TrytonConnector, TrytonSession
from einklang.testing.contract import BackDoor, ConnectorContract, live_ids

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, tryton_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, tryton_server  # type: ignore[no-redef]

pytestmark = pytest.mark.integration
__all__ = ["tryton_server"]

MUSTER = {
    "name": "Muster GmbH",
    "street": "Hauptstr. 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
    "email": "info@muster.example",
    "phone": "+49 30 1234567",
    "mobile": None,
}


def make_connector(server: RunningServer, **settings: Any) -> TrytonConnector:
    return TrytonConnector(
        "erp",
        {
            "url": server.url,
            "database": server.info["database"],
            "user": server.info["user"],
            "password": server.info["password"],
            **settings,
        },
        {"company": {"kind": "party"}},
    )


@pytest.fixture
def tryton(tryton_server: RunningServer) -> Iterator[TrytonConnector]:
    connector = make_connector(tryton_server, overlap_seconds=0)
    # Countries start empty in a fresh Tryton; the tests need two of them.
    connector.session.model(
        "country.country", "create", [{"name": "Germany", "code": "DE"}, {"name": "Austria", "code": "AT"}]
    )
    yield connector
    connector.close()


def drain(connector: TrytonConnector, cursor: Any) -> tuple[dict[str, dict[str, Any]], list[str], Any]:
    records: dict[str, dict[str, Any]] = {}
    deleted: list[str] = []
    page = ChangePage()
    for page in connector.read_changes("company", cursor):
        records.update({record.native_id: dict(record.fields) for record in page.records})
        deleted.extend(page.deleted_ids)
    return records, deleted, page.cursor


def test_registered_as_entry_point() -> None:
    assert load_connector_class("tryton") is TrytonConnector


def test_check_describes_server(tryton: TrytonConnector) -> None:
    assert "Tryton 8.2" in tryton.check()


def test_create_flattens_address_and_contact_mechanisms(tryton: TrytonConnector) -> None:
    created = tryton.create("company", [MUSTER, {"name": "Einzelperson", "email": "p@example.org"}])
    assert [record.fields["name"] for record in created] == ["Muster GmbH", "Einzelperson"]
    muster = created[0].fields
    assert {key: muster[key] for key in MUSTER} == MUSTER
    assert muster["code"]  # Tryton's own sequence
    assert created[1].fields["street"] is None and created[1].fields["email"] == "p@example.org"
    fetched = tryton.get("company", [created[0].native_id, "999999"])
    assert list(fetched) == [created[0].native_id]
    assert fetched[created[0].native_id].version == created[0].version
    pages = list(tryton.read_all("company", page_size=1))
    assert [len(page) for page in pages] == [1, 1]
    assert sorted(live_ids(tryton, "company")) == sorted(record.native_id for record in created)


def test_unknown_country_and_unknown_field_are_rejected(tryton: TrytonConnector) -> None:
    with pytest.raises(RecordRejected, match="country 'XX'"):
        tryton.create("company", [{"name": "Nowhere Ltd", "country": "XX"}])
    with pytest.raises(RecordRejected, match="unknown party fields: shoe_size"):
        tryton.create("company", [{"name": "Odd", "shoe_size": 44}])
    # A batch is all or nothing: the engine re-sends a refused batch record by record.
    with pytest.raises(RecordRejected, match="country 'XX'"):
        tryton.create("company", [{"name": "Gut GmbH"}, {"name": "Schlecht", "country": "XX"}])
    tryton.session.model("party.party", "create", [{"name": "Erste", "code": "K-1"}])
    with pytest.raises(RecordRejected):  # refused by Tryton itself: party codes are unique
        tryton.create("company", [{"name": "Gut GmbH"}, {"name": "Zweite", "code": "K-1"}])
    assert [r.fields["name"] for page in tryton.read_all("company") for r in page] == ["Erste"]


def test_update_writes_only_the_patch_through_nested_commands(tryton: TrytonConnector) -> None:
    [muster] = tryton.create("company", [MUSTER])
    updated = tryton.update(
        "company",
        muster.native_id,
        {"city": "Potsdam", "postal_code": "14467", "mobile": "+49 170 1111111", "phone": None},
        muster.version,
    )
    assert updated.fields["city"] == "Potsdam" and updated.fields["street"] == "Hauptstr. 1"
    assert updated.fields["mobile"] == "+49 170 1111111" and updated.fields["phone"] is None
    assert updated.version != muster.version
    party = tryton.session.model("party.party", "read", [int(muster.native_id)], ["addresses", "contact_mechanisms"])[0]
    assert len(party["addresses"]) == 1 and len(party["contact_mechanisms"]) == 2


def test_update_is_conditional_on_children_too(tryton: TrytonConnector) -> None:
    [muster] = tryton.create("company", [MUSTER])
    # Behind the connector's back: only the address changes, the party row does not.
    address_id = tryton.session.model("party.party", "read", [int(muster.native_id)], ["addresses"])[0]["addresses"][0]
    tryton.session.model("party.address", "write", [address_id], {"city": "Hamburg"})
    with pytest.raises(StaleVersion):
        tryton.update("company", muster.native_id, {"name": "Muster AG"}, muster.version)
    fresh = tryton.get("company", [muster.native_id])[muster.native_id]
    assert fresh.fields["name"] == "Muster GmbH" and fresh.fields["city"] == "Hamburg"
    assert (
        tryton.update("company", muster.native_id, {"name": "Muster AG"}, fresh.version).fields["name"] == "Muster AG"
    )
    with pytest.raises(RecordNotFound):
        tryton.update("company", "424242", {"name": "x"}, None)


def test_changes_include_child_writes_and_use_the_server_clock(tryton: TrytonConnector) -> None:
    records, deleted, cursor = drain(tryton, None)
    assert records == {} and deleted == []
    [muster, other] = tryton.create("company", [MUSTER, {"name": "Other KG"}])
    records, deleted, cursor = drain(tryton, cursor)
    assert set(records) == {muster.native_id, other.native_id}
    assert cursor["since"] is not None
    # Nothing happened: nothing is returned (overlap is 0 in these tests).
    assert drain(tryton, cursor)[:2] == ({}, [])

    party_id = int(muster.native_id)
    party = tryton.session.model("party.party", "read", [party_id], ["addresses", "write_date"])[0]
    tryton.session.model("party.address", "write", party["addresses"], {"city": "Köln"})
    assert (
        tryton.session.model("party.party", "read", [party_id], ["write_date"])[0]["write_date"] == party["write_date"]
    )  # the parent really was not touched
    records, _, cursor = drain(tryton, cursor)
    assert set(records) == {muster.native_id} and records[muster.native_id]["city"] == "Köln"

    tryton.session.model(
        "party.contact_mechanism", "create", [{"party": party_id, "type": "mobile", "value": "+49 171 2222222"}]
    )
    records, _, cursor = drain(tryton, cursor)
    assert records[muster.native_id]["mobile"] == "+49 171 2222222"


def test_deletions_by_archive_hard_delete_and_child_delete(tryton: TrytonConnector) -> None:
    [muster, archived, removed] = tryton.create("company", [MUSTER, {"name": "Archiv AG"}, {"name": "Weg GmbH"}])
    _, _, cursor = drain(tryton, None)

    tryton.delete("company", archived.native_id, archived.version)  # archives by default
    tryton.session.model("party.party", "delete", [int(removed.native_id)])
    records, deleted, cursor = drain(tryton, cursor)
    assert sorted(deleted) == sorted([archived.native_id, removed.native_id])
    assert archived.native_id not in records
    assert sorted(live_ids(tryton, "company")) == [muster.native_id]
    assert tryton.get("company", [archived.native_id]) == {}

    # A contact mechanism deleted on its own does not touch the party: still detected.
    mechanism_ids = tryton.session.model(
        "party.contact_mechanism",
        "search",
        [["party", "=", int(muster.native_id)], ["type", "=", "email"]],
        0,
        None,
        None,
    )
    tryton.session.model("party.contact_mechanism", "delete", mechanism_ids)
    records, deleted, cursor = drain(tryton, cursor)
    assert deleted == [] and records[muster.native_id]["email"] is None
    # ... and only once.
    assert drain(tryton, cursor)[:2] == ({}, [])
    with pytest.raises(RecordNotFound):
        tryton.delete("company", archived.native_id, None)  # already gone


def test_delete_is_conditional(tryton: TrytonConnector) -> None:
    [muster] = tryton.create("company", [MUSTER])
    tryton.session.model("party.party", "write", [int(muster.native_id)], {"name": "Renamed"})
    with pytest.raises(StaleVersion):
        tryton.delete("company", muster.native_id, muster.version)
    assert list(live_ids(tryton, "company")) == [muster.native_id]


def test_find_compares_flat_fields(tryton: TrytonConnector) -> None:
    [muster, _] = tryton.create("company", [MUSTER, {**MUSTER, "name": "Zweite GmbH", "email": "z@x.example"}])
    assert [r.native_id for r in tryton.find("company", {"email": "info@muster.example"})] == [muster.native_id]
    assert len(tryton.find("company", {"city": "Berlin", "country": "DE"})) == 2
    assert tryton.find("company", {"name": "Muster GmbH", "city": "Bonn"}) == []
    assert len(tryton.find("company", {"city": "Berlin"}, limit=1)) == 1


def test_wrong_password_is_a_configuration_error(tryton_server: RunningServer) -> None:
    from einklang.connectors.base import ConfigurationError

    connector = make_connector(tryton_server, password="wrong")
    with pytest.raises(ConfigurationError, match="login"):
        connector.check()


# --- the shared connector contract ---------------------------------------------------------------


class TrytonBackDoor(BackDoor):
    """Another Tryton user with a session of their own, editing parties as the client would."""

    def __init__(self, server: RunningServer) -> None:
        self.session = TrytonSession(
            "backdoor",
            {
                "url": server.url,
                "database": server.info["database"],
                "user": server.info["user"],
                "password": server.info["password"],
            },
        )

    def insert(self, fields: Any) -> str:
        values: dict[str, Any] = {"name": fields["name"]}
        if fields.get("city"):
            values["addresses"] = [["create", [{"city": fields["city"]}]]]
        if fields.get("email"):
            values["contact_mechanisms"] = [["create", [{"type": "email", "value": fields["email"]}]]]
        return str(self.session.model("party.party", "create", [values])[0])

    def update(self, native_id: str, fields: Any) -> None:
        party_id = int(native_id)
        party = self.session.model("party.party", "read", [party_id], ["addresses", "contact_mechanisms"])[0]
        if "name" in fields:
            self.session.model("party.party", "write", [party_id], {"name": fields["name"]})
        if "city" in fields and party["addresses"]:
            # On the address only: the party's write_date stays as it was.
            self.session.model("party.address", "write", party["addresses"][:1], {"city": fields["city"]})
        elif "city" in fields:
            self.session.model("party.address", "create", [{"party": party_id, "city": fields["city"]}])
        if "email" in fields:
            emails = self.session.model(
                "party.contact_mechanism", "search", [["party", "=", party_id], ["type", "=", "email"]], 0, 1, None
            )
            if emails:
                self.session.model("party.contact_mechanism", "write", emails, {"value": fields["email"]})
            else:
                self.session.model(
                    "party.contact_mechanism",
                    "create",
                    [{"party": party_id, "type": "email", "value": fields["email"]}],
                )

    def delete(self, native_id: str) -> None:
        self.session.model("party.party", "delete", [int(native_id)])

    def read(self, native_id: str) -> dict[str, Any] | None:
        if not self.session.model("party.party", "search", [["id", "=", int(native_id)]], 0, 1, None):
            return None
        party = self.session.model("party.party", "read", [int(native_id)], ["name", "email", "addresses"])[0]
        city = None
        if party["addresses"]:
            city = self.session.model("party.address", "read", party["addresses"][:1], ["city"])[0]["city"]
        return {"name": party["name"], "email": party["email"] or None, "city": city or None}


@pytest.mark.integration
class TestTrytonContract(ConnectorContract):
    @pytest.fixture
    def connector(self, tryton_server: RunningServer) -> Iterator[TrytonConnector]:  # type: ignore[override]
        connector = TrytonConnector(
            "erp",
            {
                "url": tryton_server.url,
                "database": tryton_server.info["database"],
                "user": tryton_server.info["user"],
                "password": tryton_server.info["password"],
            },
            {"contact": {"kind": "party"}},
        )
        yield connector
        connector.close()

    @pytest.fixture
    def backdoor(self, tryton_server: RunningServer) -> BackDoor:
        return TrytonBackDoor(tryton_server)

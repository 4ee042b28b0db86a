"""The BottleCRM connector against a real django-crm 1.35 (database reset per test).

The retry tests, which need no server (an httpx MockTransport), are in
tests/unit/connectors/test_bottlecrm_http.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from einklang.connectors.base import (
    ChangeDetection,
    ChangePage,
    RecordNotFound,
    RecordRejected,
    StaleVersion,
    SystemUnavailable,
    load_connector_class,
)
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.testing.contract import BackDoor, ConnectorContract, live_ids

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, bottlecrm_running, bottlecrm_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, bottlecrm_running, bottlecrm_server  # type: ignore[no-redef]

__all__ = ["bottlecrm_running", "bottlecrm_server"]

ENTITIES = {"company": {"resource": "account"}, "person": {"resource": "contact"}}
MUSTER = {
    "name": "Muster GmbH",
    "email": "info@muster.example",
    "phone": "+493012345678",
    "address_line": "Hauptstr. 1",
    "city": "Berlin",
    "postcode": "10115",
    "country": "DE",
}


@pytest.fixture
def crm(bottlecrm_server: RunningServer) -> Iterator[BottleCrmConnector]:
    connector = BottleCrmConnector(
        "crm",
        {"url": bottlecrm_server.url, "token": bottlecrm_server.info["token"], "page_size": 3, "overlap_seconds": 0},
        ENTITIES,
    )
    yield connector
    connector.close()


def drain(
    connector: BottleCrmConnector,
    entity: str,
    cursor: Any,
) -> tuple[dict[str, dict[str, Any]], list[str], Any]:
    records: dict[str, dict[str, Any]] = {}
    deleted: list[str] = []
    page = ChangePage()
    for page in connector.read_changes(entity, cursor):
        records.update({record.native_id: dict(record.fields) for record in page.records})
        deleted.extend(page.deleted_ids)
    return records, deleted, page.cursor


def person(first: str, last: str, **extra: Any) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "email": f"{first.lower()}@example.org", **extra}


def test_registered_as_entry_point() -> None:
    assert load_connector_class("bottlecrm") is BottleCrmConnector


@pytest.mark.integration
def test_check_and_capabilities(crm: BottleCrmConnector) -> None:
    assert "company" in crm.check()
    # Read through the activity feed, both are compared with the versions the engine stores.
    assert crm.capabilities("person").change_detection is ChangeDetection.SNAPSHOT
    # Accounts show no updated_at in the API: their version is a content hash.
    assert crm.capabilities("company").change_detection is ChangeDetection.SNAPSHOT
    # Without the feed, contacts are scanned by updated_at as before.
    scanning = BottleCrmConnector("crm", {**crm.settings.model_dump(), "change_feed": False}, ENTITIES)
    assert scanning.capabilities("person").change_detection is ChangeDetection.TIMESTAMP


@pytest.mark.integration
def test_create_get_and_read_all_across_pages(crm: BottleCrmConnector) -> None:
    [muster] = crm.create("company", [MUSTER])
    assert {key: muster.fields[key] for key in MUSTER} == MUSTER
    people = crm.create("person", [person(f"P{i}", "Muster", account=muster.native_id) for i in range(7)])
    assert [p.fields["first_name"] for p in people] == [f"P{i}" for i in range(7)]
    assert all(p.fields["account"] == muster.native_id for p in people)
    pages = list(crm.read_all("person", page_size=3))
    assert [len(page) for page in pages] == [3, 3, 1]  # page_size 3
    assert {r.native_id for page in pages for r in page} == {p.native_id for p in people}
    assert sorted(live_ids(crm, "person")) == sorted(p.native_id for p in people)
    got = crm.get("person", [people[0].native_id, "00000000-0000-0000-0000-000000000000"])
    assert list(got) == [people[0].native_id] and got[people[0].native_id].version == people[0].version


@pytest.mark.integration
def test_validation_errors_are_rejections_with_the_servers_message(crm: BottleCrmConnector) -> None:
    with pytest.raises(RecordRejected, match="phone: Enter a valid phone number"):
        crm.create("person", [person("Bad", "Phone", phone="12")])
    # The second record fails after the first was created: the batch is undone, because the
    # engine then sends each record again on its own.
    with pytest.raises(RecordRejected, match=r"record #1 of the batch: .*email.*deleted again"):
        crm.create("person", [person("Good", "One"), person("Bad", "Mail", email="not-an-email")])
    assert list(live_ids(crm, "person")) == []
    [good] = crm.create("person", [person("Fine", "Person")])
    with pytest.raises(RecordRejected, match="unknown contact fields: shoe_size"):
        crm.update("person", good.native_id, {"shoe_size": 44}, good.version)


@pytest.mark.integration
def test_conditional_update_and_delete(crm: BottleCrmConnector) -> None:
    [erika] = crm.create("person", [person("Erika", "Muster", city="Berlin")])
    updated = crm.update("person", erika.native_id, {"city": "Potsdam", "title": "CFO"}, erika.version)
    assert updated.fields["city"] == "Potsdam" and updated.fields["title"] == "CFO"
    assert updated.version != erika.version
    with pytest.raises(StaleVersion):
        crm.update("person", erika.native_id, {"city": "Köln"}, erika.version)
    with pytest.raises(StaleVersion):
        crm.delete("person", erika.native_id, erika.version)
    [muster] = crm.create("company", [MUSTER])
    changed = crm.update("company", muster.native_id, {"city": "Hamburg"}, muster.version)
    with pytest.raises(StaleVersion):
        crm.update("company", muster.native_id, {"city": "Bremen"}, muster.version)
    crm.delete("company", muster.native_id, changed.version)
    with pytest.raises(RecordNotFound):
        crm.delete("company", muster.native_id, changed.version)  # gone already
    with pytest.raises(RecordNotFound):
        crm.update("company", muster.native_id, {"city": "Bremen"}, None)


@pytest.mark.integration
def test_contact_changes_by_updated_at_and_deletions_by_id_set(
    crm: BottleCrmConnector, bottlecrm_server: RunningServer
) -> None:
    people = crm.create("person", [person(f"P{i}", "Muster") for i in range(5)])
    records, deleted, cursor = drain(crm, "person", None)
    assert set(records) == {p.native_id for p in people} and deleted == []
    assert drain(crm, "person", cursor)[:2] == ({}, [])  # quiet: nothing

    crm.update("person", people[3].native_id, {"city": "Bonn"}, None)
    crm.delete("person", people[1].native_id, None)
    [new] = crm.create("person", [person("Neu", "Muster")])
    records, deleted, cursor = drain(crm, "person", cursor)
    assert set(records) == {people[3].native_id, new.native_id}
    assert records[people[3].native_id]["city"] == "Bonn"
    assert deleted == [people[1].native_id]
    assert drain(crm, "person", cursor)[:2] == ({}, [])


@pytest.mark.integration
def test_account_changes_by_content_and_deletions(crm: BottleCrmConnector) -> None:
    accounts = crm.create("company", [{**MUSTER, "name": f"Firma {i}"} for i in range(4)])
    records, _, cursor = drain(crm, "company", None)
    assert set(records) == {a.native_id for a in accounts}
    crm.delete("company", accounts[0].native_id, None)
    records, deleted, cursor = drain(crm, "company", cursor)
    assert deleted == [accounts[0].native_id]

    class Stored:  # what the state store would hold: the versions einklang last saw
        def __init__(self, versions: dict[str, str]) -> None:
            self.versions = versions

        def hashes(self, ids: Any) -> dict[str, str]:
            return {i: self.versions[i] for i in ids if i in self.versions}

        def known_ids(self) -> Iterator[str]:
            return iter(self.versions)

    stored = Stored({a.native_id: a.version or "" for a in accounts})
    crm.update("company", accounts[2].native_id, {"phone": "+494012345678"}, None)
    # the activity feed names the changed account (the deletion was reported above already)
    pages = list(crm.read_changes("company", cursor, stored))  # type: ignore[arg-type]
    assert [r.native_id for page in pages for r in page.records] == [accounts[2].native_id]
    assert [i for page in pages for i in page.deleted_ids] == []
    # a full reconciliation compares every account with the stored hashes, and the id sets
    reconciling = BottleCrmConnector("crm", {**crm.settings.model_dump(), "reconcile_seconds": 0}, ENTITIES)
    pages = list(reconciling.read_changes("company", cursor, stored))  # type: ignore[arg-type]
    assert [r.native_id for page in pages for r in page.records] == [accounts[2].native_id]
    assert [i for page in pages for i in page.deleted_ids] == [accounts[0].native_id]


@pytest.mark.integration
def test_find_by_fields(crm: BottleCrmConnector) -> None:
    crm.create(
        "person", [person("Erika", "Muster"), person("Max", "Muster"), person("Erika", "Other", email="eo@example.org")]
    )
    found = crm.find("person", {"first_name": "Erika", "last_name": "Muster"})
    assert [r.fields["email"] for r in found] == ["erika@example.org"]
    crm.create("company", [MUSTER, {**MUSTER, "name": "Muster GmbH & Co. KG"}])
    assert [r.fields["name"] for r in crm.find("company", {"name": "Muster GmbH"})] == ["Muster GmbH"]


@pytest.mark.integration
def test_unreachable_server_is_unavailable(bottlecrm_server: RunningServer) -> None:
    connector = BottleCrmConnector(
        "crm", {"url": "http://127.0.0.1:9", "token": "x", "retry_attempts": 2, "retry_initial_wait": 0.01}, ENTITIES
    )
    with pytest.raises(SystemUnavailable):
        connector.check()
    bad_token = BottleCrmConnector("crm", {"url": bottlecrm_server.url, "token": "bcrm_pat_wrong"}, ENTITIES)
    from einklang.connectors.base import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"401|403"):
        bad_token.check()


# --- the shared connector contract ---------------------------------------------------------------


class BottleCrmBackDoor(BackDoor):
    """Another API client of the same organisation, editing accounts behind einklang's back."""

    def __init__(self, server: RunningServer) -> None:
        self.client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.info['token']}"})

    def insert(self, fields: Any) -> str:
        response = self.client.post("/api/accounts/", json={k: v or "" for k, v in fields.items()})
        response.raise_for_status()
        return str(response.json()["id"])

    def update(self, native_id: str, fields: Any) -> None:
        self.client.patch(f"/api/accounts/{native_id}/", json=dict(fields)).raise_for_status()

    def delete(self, native_id: str) -> None:
        self.client.delete(f"/api/accounts/{native_id}/").raise_for_status()

    def read(self, native_id: str) -> dict[str, Any] | None:
        response = self.client.get(f"/api/accounts/{native_id}/")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        account = response.json()["account_obj"]
        return {name: account.get(name) or None for name in ("name", "email", "city")}


@pytest.mark.integration
class TestBottleCrmAccountContract(ConnectorContract):
    @pytest.fixture
    def connector(self, bottlecrm_server: RunningServer) -> Iterator[BottleCrmConnector]:  # type: ignore[override]
        connector = BottleCrmConnector(
            "crm",
            {"url": bottlecrm_server.url, "token": bottlecrm_server.info["token"], "page_size": self.page_size},
            {"contact": {"resource": "account"}},
        )
        yield connector
        connector.close()

    @pytest.fixture
    def backdoor(self, bottlecrm_server: RunningServer) -> BackDoor:
        return BottleCrmBackDoor(bottlecrm_server)

    def missing_id(self) -> str:
        return "00000000-0000-4000-8000-000000000000"

    @pytest.mark.xfail(
        raises=RecordRejected,
        strict=True,
        reason="BottleCRM (Django EmailValidator) refuses e-mail addresses with non-ASCII "
        "local parts; the connector reports that as RecordRejected",
    )
    def test_unicode_round_trips(self, connector: Any, backdoor: BackDoor) -> None:
        super().test_unicode_round_trips(connector, backdoor)

    def test_unicode_round_trips_with_an_ascii_email(self, connector: BottleCrmConnector) -> None:
        name, city = "Jürgen Größe-Öztürk ÄÖÜ äöü ß ẞ", "Zoë 🎉 👩‍💻 Łódź 東京"
        [created] = connector.create("contact", [{"name": name, "email": "j@xn--mller-kva.example", "city": city}])
        got = connector.get("contact", [created.native_id])[created.native_id]
        assert (got.fields["name"], got.fields["city"]) == (name, city)
        assert [r.native_id for r in connector.find("contact", {"city": city})] == [created.native_id]


@pytest.mark.integration
def test_phone_extension_is_stored_the_din5008_way_and_read_back(
    crm: BottleCrmConnector, bottlecrm_server: RunningServer
) -> None:
    # BottleCRM accepts digits and separators only: ";ext=102" would be refused.
    created = crm.create("person", [person("Erika", "Durchwahl", phone="+49301234567;ext=102")])[0]
    assert crm.get("person", [created.native_id])[created.native_id].fields["phone"] == "+49301234567;ext=102"
    response = httpx.get(
        f"{bottlecrm_server.url}/api/contacts/{created.native_id}/",
        headers={"Authorization": f"Bearer {bottlecrm_server.info['token']}"},
    )
    stored = response.json()["contact_obj"]["phone"]
    assert stored == "+49 30 1234567-102"

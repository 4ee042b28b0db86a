"""The CardDAV connector against a real Radicale 3.9 (fresh storage per test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from einklang.connectors.base import (
    ChangePage,
    RecordNotFound,
    RecordRejected,
    StaleVersion,
    load_connector_class,
)
from einklang.connectors.carddav import CardDavConnector, VCard, apply_fields, card_to_fields, fields_to_card
from einklang.testing.contract import BackDoor, ConnectorContract, MemorySnapshotStore, drain_changes, live_ids

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.servers import RunningServer, radicale_server
except ImportError:  # pragma: no cover
    from servers import RunningServer, radicale_server  # type: ignore[no-redef]

__all__ = ["radicale_server"]

FOREIGN_CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:outlook-4711\r\nFN:Dr. Erika Mustermann\r\n"
    "N:Mustermann;Erika;;Dr.;\r\nORG:Muster GmbH;Einkauf\r\nTITLE:Leitung Einkauf\r\n"
    "EMAIL;TYPE=INTERNET,WORK:erika@muster.example\r\nEMAIL;TYPE=INTERNET,HOME:erika@privat.example\r\n"
    "TEL;TYPE=WORK,VOICE:+49 30 1234567\r\nTEL;TYPE=CELL:+49 170 7654321\r\nTEL;TYPE=FAX:+49 30 1234568\r\n"
    "ADR;TYPE=WORK:;;Hauptstr. 1;Berlin;;10115;Deutschland\r\n"
    "NOTE:Kundin seit 2019\\, bevorzugt Telefon\r\nX-OUTLOOK-CATEGORY:VIP\r\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8M\r\n"
    " Cw sLDBkSEw8U\r\n"
    "END:VCARD\r\n"
)
VCARD4 = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\nFN:Max Muster\r\n"
    'N:Muster;Max;;;\r\nEMAIL;PREF=1:max@muster.example\r\nTEL;VALUE=uri;TYPE="cell,voice":tel:+49-170-1\r\n'
    "TEL;VALUE=uri;TYPE=work:tel:+49-30-2\r\nADR;TYPE=work:;;Ring 2;Köln;;50667;DE\r\nEND:VCARD\r\n"
)


class RadicaleBackDoor(BackDoor):
    """A second CardDAV client (a phone, Thunderbird) editing the same address book."""

    def __init__(self, server: RunningServer) -> None:
        self.collection = server.info["addressbook"]
        self.client = httpx.Client(auth=(server.info["user"], server.info["password"]))

    def put_raw(self, name: str, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.put(
            self.collection + name,
            content=text.encode(),
            headers={"Content-Type": "text/vcard; charset=utf-8", **(headers or {})},
        )

    def insert(self, fields: Any) -> str:
        card = fields_to_card(fields)
        name = f"{card_to_fields(card)['uid']}.vcf"
        self.put_raw(name, card.serialize()).raise_for_status()
        return name

    def update(self, native_id: str, fields: Any) -> None:
        response = self.client.get(self.collection + native_id)
        card = VCard.parse(response.text)
        apply_fields(card, fields)
        self.put_raw(native_id, card.serialize()).raise_for_status()

    def delete(self, native_id: str) -> None:
        self.client.delete(self.collection + native_id).raise_for_status()

    def read(self, native_id: str) -> dict[str, Any] | None:
        response = self.client.get(self.collection + native_id)
        if response.status_code == 404:
            return None
        return card_to_fields(VCard.parse(response.text))


def make_connector(server: RunningServer, page_size: int = 3) -> CardDavConnector:
    return CardDavConnector(
        "book",
        {"url": server.info["addressbook"], "user": server.info["user"], "password": server.info["password"]},
        {"contact": {"page_size": page_size}},
    )


@pytest.fixture
def book(radicale_server: RunningServer) -> Iterator[CardDavConnector]:
    connector = make_connector(radicale_server)
    yield connector
    connector.close()


@pytest.fixture
def phone(radicale_server: RunningServer) -> RadicaleBackDoor:
    return RadicaleBackDoor(radicale_server)


def drain(connector: CardDavConnector, cursor: Any) -> tuple[dict[str, dict[str, Any]], list[str], Any]:
    records: dict[str, dict[str, Any]] = {}
    deleted: list[str] = []
    page = ChangePage()
    for page in connector.read_changes("contact", cursor):
        records.update({record.native_id: dict(record.fields) for record in page.records})
        deleted.extend(page.deleted_ids)
    return records, deleted, page.cursor


# --- vCard mapping (no server) --------------------------------------------------------------------


def test_registered_as_entry_point() -> None:
    assert load_connector_class("carddav") is CardDavConnector


def test_vcard3_maps_to_flat_fields() -> None:
    assert card_to_fields(VCard.parse(FOREIGN_CARD)) == {
        "uid": "outlook-4711",
        "name": "Dr. Erika Mustermann",
        "first_name": "Erika",
        "last_name": "Mustermann",
        "company": "Muster GmbH",
        "title": "Leitung Einkauf",
        "email": "erika@muster.example",
        "phone": "+49 30 1234567",
        "mobile": "+49 170 7654321",
        "street": "Hauptstr. 1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "Deutschland",
    }


def test_vcard4_is_read() -> None:
    fields = card_to_fields(VCard.parse(VCARD4))
    assert (fields["email"], fields["mobile"], fields["phone"], fields["city"]) == (
        "max@muster.example",
        "tel:+49-170-1",
        "tel:+49-30-2",
        "Köln",
    )


def test_patch_keeps_everything_it_does_not_map() -> None:
    card = VCard.parse(FOREIGN_CARD)
    apply_fields(
        card,
        {
            "city": "Potsdam",
            "postal_code": "14467",
            "email": "e.mustermann@muster.example",
            "mobile": None,
            "last_name": "Musterfrau",
        },
    )
    text = card.serialize()
    fields = card_to_fields(VCard.parse(text))
    assert (fields["city"], fields["postal_code"], fields["street"]) == ("Potsdam", "14467", "Hauptstr. 1")
    assert fields["mobile"] is None and fields["last_name"] == "Musterfrau"
    assert fields["name"] == "Dr. Erika Mustermann"  # hand-made FN is not rebuilt from N
    for kept in (
        "NOTE:Kundin seit 2019\\, bevorzugt Telefon",
        "X-OUTLOOK-CATEGORY:VIP",
        "erika@privat.example",
        "TEL;TYPE=FAX:+49 30 1234568",
        "PHOTO;ENCODING=b;TYPE=JPEG:",
        "N:Musterfrau;Erika;;Dr.;",
        "ORG:Muster GmbH;Einkauf",
    ):
        assert kept in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def test_new_cards_are_vcard3_with_escaping() -> None:
    card = fields_to_card(
        {
            "first_name": "Anna",
            "last_name": "Schmidt",
            "company": "Schmidt; Söhne, KG",
            "street": "Am Markt 3\nHinterhaus",
        }
    )
    text = card.serialize()
    assert "VERSION:3.0" in text and "FN:Anna Schmidt" in text and "ORG:Schmidt\\; Söhne\\, KG" in text
    assert card_to_fields(VCard.parse(text))["street"] == "Am Markt 3\nHinterhaus"
    assert card_to_fields(VCard.parse(text))["company"] == "Schmidt; Söhne, KG"


# --- against Radicale -----------------------------------------------------------------------------


@pytest.mark.integration
def test_sync_report_changes_and_404_deletions(book: CardDavConnector, phone: RadicaleBackDoor) -> None:
    created = book.create("contact", [{"first_name": f"P{i}", "last_name": "Muster"} for i in range(4)])
    records, deleted, cursor = drain(book, None)
    assert set(records) == {c.native_id for c in created} and deleted == []
    assert drain(book, cursor)[:2] == ({}, [])  # same token: nothing

    phone.update(created[1].native_id, {"city": "Bonn"})
    phone.delete(created[2].native_id)
    outlook = phone.put_raw("outlook-4711.vcf", FOREIGN_CARD)
    assert outlook.status_code == 201
    records, deleted, cursor = drain(book, cursor)
    assert set(records) == {created[1].native_id, "outlook-4711.vcf"}
    assert records[created[1].native_id]["city"] == "Bonn" and deleted == [created[2].native_id]
    assert drain(book, cursor)[:2] == ({}, [])


@pytest.mark.integration
def test_rejected_sync_token_falls_back_to_a_full_listing(book: CardDavConnector, phone: RadicaleBackDoor) -> None:
    created = book.create("contact", [{"name": f"Card {i}"} for i in range(3)])
    snapshots = MemorySnapshotStore()
    first = drain_changes(book, "contact", None, snapshots)
    phone.update(created[0].native_id, {"name": "Card 0 changed"})
    phone.delete(created[1].native_id)
    bogus = {"sync_token": "http://radicale.org/ns/sync/" + "0" * 64}
    after = drain_changes(book, "contact", bogus, snapshots)
    assert set(after.records) == {created[0].native_id}  # unchanged ETags are not news
    assert after.deleted_ids == {created[1].native_id}
    assert after.cursor["sync_token"] and after.cursor != first.cursor
    assert drain_changes(book, "contact", after.cursor, snapshots).records == {}
    # Without stored versions, the fallback reports every card (and no deletions).
    assert set(drain(book, bogus)[0]) == {created[0].native_id, created[2].native_id}


@pytest.mark.integration
def test_etag_conflicts(book: CardDavConnector, phone: RadicaleBackDoor) -> None:
    [card] = book.create("contact", [{"uid": "fixed-uid-1", "first_name": "Erika", "last_name": "Muster"}])
    assert card.native_id == "fixed-uid-1.vcf" and card.version
    with pytest.raises(RecordRejected, match="exists already"):
        book.create("contact", [{"uid": "fixed-uid-1", "name": "Doppelt"}])
    with pytest.raises(RecordRejected, match="record #1 of the batch"):  # all or nothing
        book.create("contact", [{"uid": "fresh-2", "name": "Neu"}, {"uid": "fixed-uid-1", "name": "Doppelt"}])
    assert list(live_ids(book, "contact")) == ["fixed-uid-1.vcf"]
    phone.update(card.native_id, {"title": "CFO"})
    with pytest.raises(StaleVersion):
        book.update("contact", card.native_id, {"city": "Köln"}, card.version)
    with pytest.raises(StaleVersion):
        book.delete("contact", card.native_id, card.version)
    fresh = book.get("contact", [card.native_id])[card.native_id]
    assert fresh.fields["title"] == "CFO"
    updated = book.update("contact", card.native_id, {"city": "Köln"}, fresh.version)
    assert updated.fields["city"] == "Köln" and updated.fields["title"] == "CFO"
    book.delete("contact", card.native_id, updated.version)
    with pytest.raises(RecordNotFound):
        book.delete("contact", card.native_id, None)


@pytest.mark.integration
def test_update_of_a_foreign_card_preserves_unmapped_properties(
    book: CardDavConnector, phone: RadicaleBackDoor
) -> None:
    phone.put_raw("outlook-4711.vcf", FOREIGN_CARD).raise_for_status()
    phone.put_raw("max.vcf", VCARD4).raise_for_status()
    record = book.get("contact", ["outlook-4711.vcf"])["outlook-4711.vcf"]
    book.update("contact", record.native_id, {"phone": "+49 30 999999", "city": "Potsdam"}, record.version)
    stored = phone.client.get(phone.collection + "outlook-4711.vcf").text
    for kept in ("X-OUTLOOK-CATEGORY:VIP", "erika@privat.example", "NOTE:Kundin seit 2019", "PHOTO;"):
        assert kept in stored
    assert "+49 30 999999" in stored and "Potsdam" in stored
    max_card = book.get("contact", ["max.vcf"])["max.vcf"]
    assert max_card.fields["email"] == "max@muster.example"
    updated = book.update("contact", "max.vcf", {"title": "CTO"}, max_card.version)
    assert updated.fields["title"] == "CTO" and updated.fields["city"] == "Köln"
    assert "VERSION:4.0" in phone.client.get(phone.collection + "max.vcf").text


@pytest.mark.integration
def test_wrong_password_is_a_configuration_error(radicale_server: RunningServer) -> None:
    from einklang.connectors.base import ConfigurationError

    connector = CardDavConnector(
        "book", {"url": radicale_server.info["addressbook"], "user": "einklang", "password": "wrong"}, {"contact": {}}
    )
    with pytest.raises(ConfigurationError):
        connector.check()


@pytest.mark.integration
class TestCardDavContract(ConnectorContract):
    @pytest.fixture
    def connector(self, radicale_server: RunningServer) -> Iterator[CardDavConnector]:  # type: ignore[override]
        connector = make_connector(radicale_server, self.page_size)
        yield connector
        connector.close()

    @pytest.fixture
    def backdoor(self, radicale_server: RunningServer) -> BackDoor:
        return RadicaleBackDoor(radicale_server)

    def missing_id(self) -> str:
        return "no-such-card.vcf"

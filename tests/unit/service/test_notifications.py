"""Digests of new work by mail (a real local SMTP server) and webhook (a real local HTTP receiver)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from einklang import masking
from einklang.config import LoadedConfig
from einklang.service.channels import SIGNATURE_HEADER
from einklang.service.digest import LISTED_PER_KIND, mail_text, subject
from einklang.service.notifier import Notifier
from einklang.store import schema as t
from einklang.store.health import save_health
from einklang.store.notifications import Event
from einklang.store.outbox import add_failed_create
from einklang.store.rows import Health
from einklang.store.state import StateStore, store_for_config, utcnow
from einklang.sync.engine import SyncEngine
from einklang.systems import open_connector

from .receivers import free_port, smtp_server, webhook_receiver
from .world import edit_crm_city, edit_erp_city, linked_world

SECRET = "hook-secret-1234"


def _service(smtp_port: int, hook_url: str | None = None, **extra: Any) -> dict[str, Any]:
    notifications: dict[str, Any] = {
        "min_interval": 0,
        "email": {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "starttls": False,
            "from": "einklang@example.com",
            "to": [
                {"address": "buero@example.com", "language": "de"},
                {"address": "admin@example.com", "language": "en"},
            ],
        },
        **extra,
    }
    if hook_url:
        notifications["webhook"] = {"url": hook_url, "secret": SECRET}
    return {"notifications": notifications}


def _sync_once(loaded: LoadedConfig, store: StateStore) -> None:
    with ExitStack() as stack:
        connectors = {name: stack.enter_context(open_connector(loaded, name)) for name in loaded.model.systems}
        SyncEngine(loaded, store, connectors).run_cycle()


def _make_conflict(directory: Path, loaded: LoadedConfig, store: StateStore, customer: str, a: str, b: str) -> None:
    edit_erp_city(directory, customer, a)
    edit_crm_city(directory, customer, b)
    _sync_once(loaded, store)


def test_one_digest_per_recipient_in_their_language_and_each_event_once(tmp_path: Path) -> None:
    port = free_port()
    with smtp_server(port) as mailbox, webhook_receiver() as hook:
        loaded = linked_world(tmp_path, service=_service(port, hook.url))
        store = store_for_config(loaded)
        _make_conflict(tmp_path, loaded, store, "K1", "Kiel", "Kassel")
        _make_conflict(tmp_path, loaded, store, "K2", "Bonn", "Berlin")
        notifier = Notifier(loaded, store)
        deliveries = notifier.run_once()
        assert sorted((d.channel, d.events, d.error) for d in deliveries) == [
            ("email:admin@example.com", 2, None),
            ("email:buero@example.com", 2, None),
            ("webhook", 2, None),
        ]
        assert len(mailbox.messages) == 2  # one mail per recipient, never one per record
        by_recipient = {message["To"]: message for message in mailbox.messages}
        german = by_recipient["buero@example.com"]
        assert german["Subject"] == "einklang: 2 neue Konflikte"
        body = german.get_content()
        assert "Konflikte (ein Feld wurde in zwei Systemen verschieden geändert): 2" in body
        assert "K1 Firma 1" in body and 'erp: "Kiel"' in body and 'crm: "Kassel"' in body
        english = by_recipient["admin@example.com"]
        assert english["Subject"] == "einklang: 2 new conflicts"
        assert "K2 Firma 2" in english.get_content()
        [(headers, raw)] = hook.requests
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE_HEADER.lower()] == expected
        document = json.loads(raw)
        assert document["counts"] == {"conflict": 2, "review": 0, "isolated": 0, "unreachable": 0}
        assert {event["record"].split(" (")[0] for event in document["events"]} == {"K1 Firma 1", "K2 Firma 2"}
        # nothing new: nothing sent; a new conflict: a digest of that one alone
        assert notifier.run_once() == []
        _make_conflict(tmp_path, loaded, store, "K3", "Ulm", "Jena")
        assert {d.events for d in notifier.run_once()} == {1}
        assert len(mailbox.messages) == 4 and len(hook.requests) == 2
        assert "K3 Firma 3" in mailbox.messages[-1].get_content()
        assert "K1 Firma 1" not in mailbox.messages[-1].get_content()
        store.close()


def test_a_failed_delivery_is_retried_with_the_next_digest(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there yet
    with webhook_receiver() as hook:
        hook.status = 500
        loaded = linked_world(tmp_path, service=_service(port, hook.url))
        store = store_for_config(loaded)
        _make_conflict(tmp_path, loaded, store, "K1", "Kiel", "Kassel")
        notifier = Notifier(loaded, store)
        failed = notifier.run_once()
        assert len(failed) == 3 and all(d.error for d in failed)
        assert any("127.0.0.1:" in (d.error or "") for d in failed if d.channel.startswith("email:"))
        with store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.notification_marks)).scalar() == 0
        hook.status = 204
        with smtp_server(port) as mailbox:
            delivered = notifier.run_once()
            assert sorted((d.channel, d.events, d.error) for d in delivered) == [
                ("email:admin@example.com", 1, None),
                ("email:buero@example.com", 1, None),
                ("webhook", 1, None),
            ]
            assert len(mailbox.messages) == 2
        store.close()


def test_min_interval_gathers_events_into_the_next_digest(tmp_path: Path) -> None:
    port = free_port()
    with smtp_server(port) as mailbox:
        service = _service(port)
        service["notifications"]["min_interval"] = 3600
        service["notifications"]["email"]["to"] = [{"address": "buero@example.com"}]
        loaded = linked_world(tmp_path, service=service)
        store = store_for_config(loaded)
        _make_conflict(tmp_path, loaded, store, "K1", "Kiel", "Kassel")
        notifier = Notifier(loaded, store)
        now = utcnow()
        assert [d.events for d in notifier.run_once(now)] == [1]
        _make_conflict(tmp_path, loaded, store, "K2", "Bonn", "Berlin")
        _make_conflict(tmp_path, loaded, store, "K3", "Ulm", "Jena")
        assert notifier.run_once(now + dt.timedelta(minutes=30)) == []  # too soon after the last digest
        assert [d.events for d in notifier.run_once(now + dt.timedelta(minutes=61))] == [2]
        assert len(mailbox.messages) == 2
        store.close()


def test_isolated_records_and_a_system_down_longer_than_the_threshold(tmp_path: Path) -> None:
    port = free_port()
    masking.register("smtp-password-xyz")
    with smtp_server(port) as mailbox, webhook_receiver() as hook:
        loaded = linked_world(tmp_path, service=_service(port, hook.url, unreachable_after=600))
        store = store_for_config(loaded)
        with store.transaction() as conn:
            golden_id = conn.execute(sa.select(t.golden.c.id).limit(1)).scalar_one()
            add_failed_create(conn, None, "company", "crm", golden_id, "rejected: smtp-password-xyz", "test")
            save_health(conn, "crm", Health(failures=3, open_until=utcnow(), last_error="connection refused"))
        notifier = Notifier(loaded, store)
        now = utcnow()
        first = notifier.run_once(now)  # the isolated record; the CRM is down, but not long enough yet
        assert {d.events for d in first} == {1}
        body = json.loads(hook.requests[-1][1])
        assert body["counts"]["isolated"] == 1 and body["counts"]["unreachable"] == 0
        assert "smtp-password-xyz" not in hook.requests[-1][1].decode()  # secrets masked
        later = now + dt.timedelta(seconds=601)
        assert {d.events for d in notifier.run_once(later)} == {1}
        body = json.loads(hook.requests[-1][1])
        assert body["counts"]["unreachable"] == 1 and body["events"][0]["system"] == "crm"
        assert "System nicht erreichbar" in mailbox.messages[-2]["Subject"] + mailbox.messages[-1]["Subject"]
        assert notifier.run_once(later + dt.timedelta(hours=1)) == []  # reported once
        with store.transaction() as conn:  # the CRM is back, then down again: a new outage, reported again
            save_health(conn, "crm", Health())
        notifier.run_once(later + dt.timedelta(hours=2))
        with store.transaction() as conn:
            save_health(conn, "crm", Health(failures=1, open_until=utcnow(), last_error="timeout"))
        assert {d.events for d in notifier.run_once(later + dt.timedelta(hours=3))} == {1}
        sent = [json.loads(raw)["counts"]["unreachable"] for _, raw in hook.requests]
        assert sent.count(1) == 2
        store.close()


def test_a_digest_lists_a_bounded_number_and_counts_the_rest() -> None:
    events = [
        Event(f"conflict:{i}", "conflict", dt.datetime(2026, 1, 1), "company", subject="city", values={"erp": "A"})
        for i in range(LISTED_PER_KIND + 7)
    ]
    text = mail_text(events, {}, "en")
    assert text.count("\n- ") == LISTED_PER_KIND
    assert "… and 7 more" in text
    assert subject(events, "de") == f"einklang: {LISTED_PER_KIND + 7} neue Konflikte"
    assert max(len(line) for line in text.splitlines()) <= 80

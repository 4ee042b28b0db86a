"""Checking BottleCRM's webhook signatures (t=<seconds>,v1=<HMAC-SHA256 of "<seconds>." + body>)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.connectors.bottlecrm.webhooks import WebhookRefused, parse_event, sign, verify_signature

SECRET = "whsec_test-secret"
NOW = 1_800_000_000


def delivery(event: str = "contact.updated", record_id: str | None = "c-1") -> bytes:
    # the document and its encoding as webhooks.emit.envelope and webhooks.tasks.build_request make them
    document = {"id": "e-1", "event": event, "created_at": "2027-01-15T08:00:00+00:00", "org_id": "o-1"}
    document["data"] = {"id": record_id, "first_name": "Erika"} if record_id else {}
    return json.dumps(document, separators=(",", ":")).encode()


def test_the_signature_is_bottlecrms() -> None:
    body = delivery()
    digest = hmac.new(SECRET.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, body) == f"t={NOW},v1={digest}"
    verify_signature(SECRET, sign(SECRET, NOW, body), body, now=NOW + 10)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "unsigned"),
        ("", "unsigned"),
        ("v1=abc", "malformed"),
        (f"t={NOW}", "malformed"),
        (f"t=soon,v1={'0' * 64}", "malformed"),
        (f"t={NOW},v1={'0' * 64}", "bad_signature"),
    ],
)
def test_unsigned_and_badly_signed_deliveries_are_refused(header: str | None, reason: str) -> None:
    with pytest.raises(WebhookRefused) as refused:
        verify_signature(SECRET, header, delivery(), now=NOW)
    assert refused.value.reason == reason


def test_another_secret_another_body_or_an_old_timestamp_is_refused() -> None:
    body = delivery()
    with pytest.raises(WebhookRefused, match="does not match"):
        verify_signature("whsec_other", sign(SECRET, NOW, body), body, now=NOW)
    with pytest.raises(WebhookRefused, match="does not match"):
        verify_signature(SECRET, sign(SECRET, NOW, body), body + b" ", now=NOW)
    with pytest.raises(WebhookRefused) as replayed:
        verify_signature(SECRET, sign(SECRET, NOW, body), body, now=NOW + 301, tolerance=300)
    assert replayed.value.reason == "expired"
    assert SECRET not in str(replayed.value)


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=2**40))
def test_any_body_signed_with_the_secret_is_accepted(body: bytes, timestamp: int) -> None:
    verify_signature(SECRET, sign(SECRET, timestamp, body), body, now=timestamp)


def test_events_name_the_record_and_its_resource() -> None:
    event = parse_event(delivery("account.deleted", "a-9"))
    assert (event.resource, event.action, event.record_id) == ("account", "deleted", "a-9")
    assert parse_event(delivery("ping", None)).record_id is None
    with pytest.raises(WebhookRefused, match="not JSON"):
        parse_event(b"<html>")
    with pytest.raises(WebhookRefused, match="names no record"):
        parse_event(delivery("contact.updated", None))


def test_the_connector_queues_the_named_record_for_the_entities_of_its_resource() -> None:
    crm = BottleCrmConnector(
        "crm",
        {"url": "http://crm.test", "token": "t", "webhook_secret": SECRET},
        {"person": {"resource": "contact"}, "company": {"resource": "account"}},
    )
    body = delivery("contact.updated", "c-7")
    headers = {"X-BottleCRM-Signature": sign(SECRET, NOW, body), "X-BottleCRM-Event": "contact.updated"}
    receipt = crm.receive_webhook(headers, body, now=NOW)
    assert (receipt.record_id, receipt.entities) == ("c-7", ("person",))
    assert crm.inbox.waiting("contact") == {"c-7"} and crm.inbox.waiting("account") == set()
    with pytest.raises(WebhookRefused, match="is not the body's"):
        crm.receive_webhook({**headers, "X-BottleCRM-Event": "account.updated"}, body, now=NOW)
    lead = delivery("lead.created", "l-1")
    assert crm.receive_webhook({"X-BottleCRM-Signature": sign(SECRET, NOW, lead)}, lead, now=NOW).entities == ()
    without_secret = BottleCrmConnector("crm", {"url": "http://crm.test", "token": "t"}, {"contact": {}})
    with pytest.raises(WebhookRefused, match="no webhook_secret"):
        without_secret.receive_webhook(headers, body, now=NOW)

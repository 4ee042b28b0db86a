"""BottleCRM's outgoing webhooks: is a delivery really BottleCRM's, and which record changed.

What BottleCRM (django-crm 1.35, ``webhooks/tasks.py`` and ``webhooks/emit.py``) sends, read
from its code:

- a POST with the JSON document ``{"id", "event", "created_at", "org_id", "data"}``, encoded
  with ``json.dumps(..., separators=(",", ":"))``; ``event`` is ``contact.created``,
  ``contact.updated``, ``contact.deleted``, ``account.*`` and others, ``data["id"]`` the
  record's UUID, and ``event == "ping"`` a test delivery without a record;
- the headers ``X-BottleCRM-Event``, ``X-BottleCRM-Delivery`` and ``X-BottleCRM-Signature:
  t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>." + body>``, keyed with the
  endpoint's secret (``whsec_...``, shown once when the endpoint is created);
- a new timestamp and signature on every attempt (retries after 1 min, 5 min, 30 min, 2 h,
  6 h), so a delivery whose timestamp is older than a few minutes is a replay, not a retry.

Nothing here does I/O: the service route (:mod:`einklang.service.hooks`) hands in the headers and
the body, the connector queues the ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

SIGNATURE_HEADER = "X-BottleCRM-Signature"
EVENT_HEADER = "X-BottleCRM-Event"
PING = "ping"
# BottleCRM's own retries re-sign, so only a replayed or long-delayed delivery is this old.
DEFAULT_TOLERANCE_SECONDS = 300.0


class WebhookRefused(Exception):
    """The delivery is not trusted; ``reason`` is a short label for logs and metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class WebhookEvent:
    """One verified delivery: ``resource`` (``contact``, ``account`` ...) and ``action``
    (``created``, ``updated``, ``deleted`` ...) split from ``event``; ``record_id`` is None for a
    ping."""

    event_id: str
    event: str
    resource: str
    action: str
    record_id: str | None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header BottleCRM sends (``webhooks.tasks.sign``), for tests and tools."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str | None, body: bytes, *, now: float, tolerance: float = DEFAULT_TOLERANCE_SECONDS
) -> None:
    """Raise :class:`WebhookRefused` unless ``header`` signs ``body`` with ``secret`` within ``tolerance``."""
    if not header:
        raise WebhookRefused("unsigned", f"no {SIGNATURE_HEADER} header")
    timestamp_text = ""
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp_text = value
        elif key == "v1":
            candidates.append(value)
    if not timestamp_text.isdigit() or not candidates:
        raise WebhookRefused("malformed", f"{SIGNATURE_HEADER} is not t=<seconds>,v1=<hex>")
    timestamp = int(timestamp_text)
    expected = sign(secret, timestamp, body).partition(",v1=")[2]
    # compare_digest on every candidate: the time taken must not tell how close a guess was
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates):
        raise WebhookRefused("bad_signature", "the signature does not match the body and the secret")
    if abs(now - timestamp) > tolerance:
        raise WebhookRefused(
            "expired", f"signed {int(now - timestamp)} s ago, more than the {int(tolerance)} s accepted"
        )


def parse_event(body: bytes) -> WebhookEvent:
    """The event of a verified delivery; :class:`WebhookRefused` (``payload``) if it has no shape."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused("payload", "the body is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("event"), str):
        raise WebhookRefused("payload", "the body has no event")
    event = document["event"]
    resource, _, action = event.partition(".")
    data = document.get("data")
    record_id = data.get("id") if isinstance(data, dict) else None
    if event != PING and not isinstance(record_id, str):
        raise WebhookRefused("payload", f"event {event!r} names no record id")
    return WebhookEvent(
        event_id=str(document.get("id", "")),
        event=event,
        resource=resource,
        action=action,
        record_id=record_id if event != PING else None,
    )

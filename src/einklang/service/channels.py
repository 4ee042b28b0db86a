"""Where digests go: one mail per recipient over SMTP, or one signed JSON POST to a webhook.

Each channel has a stable name (``email:office@example.com``, ``webhook``) under which the
events it was told of are marked. ``deliver`` raises :class:`DeliveryFailed` with a masked
reason; the notifier logs it and tries again with the next digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import httpx

from einklang.config_models import EmailConfig, EmailRecipientConfig, NotificationsConfig, WebhookConfig
from einklang.masking import mask
from einklang.service.digest import mail_text, subject, webhook_body
from einklang.store.notifications import Event
from einklang.store.reports import RecordName

SIGNATURE_HEADER = "X-Einklang-Signature"


class DeliveryFailed(Exception):
    """The digest did not arrive; nothing is marked, the next digest carries its events again."""


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    def deliver(self, events: Sequence[Event], names: Mapping[str, RecordName], now: dt.datetime) -> None: ...


@dataclass
class MailChannel:
    settings: EmailConfig
    recipient: EmailRecipientConfig

    @property
    def name(self) -> str:
        return f"email:{self.recipient.address}"

    def message(self, events: Sequence[Event], names: Mapping[str, RecordName]) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = self.recipient.address
        message["Subject"] = subject(events, self.recipient.language)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="einklang")
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
        message.set_content(mail_text(events, names, self.recipient.language))
        return message

    def deliver(self, events: Sequence[Event], names: Mapping[str, RecordName], now: dt.datetime) -> None:
        settings = self.settings
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.user:
                    smtp.login(settings.user, settings.password or "")
                smtp.send_message(self.message(events, names))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(
                mask(f"mail to {self.recipient.address} via {settings.smtp_host}:{settings.smtp_port}: {exc}")
            ) from None


@dataclass
class WebhookChannel:
    settings: WebhookConfig
    name: str = "webhook"

    def deliver(self, events: Sequence[Event], names: Mapping[str, RecordName], now: dt.datetime) -> None:
        body = json.dumps(webhook_body(events, names, now), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "einklang"}
        if self.settings.secret:
            headers[SIGNATURE_HEADER] = signature(self.settings.secret, body)
        try:
            response = httpx.post(self.settings.url, content=body, headers=headers, timeout=self.settings.timeout)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(mask(f"webhook {self.settings.url}: {type(exc).__name__}: {exc}")) from None
        if response.status_code >= 300:
            raise DeliveryFailed(mask(f"webhook {self.settings.url} answered HTTP {response.status_code}"))


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body with the shared secret (as GitHub signs)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def channels_of(settings: NotificationsConfig) -> list[Channel]:
    found: list[Channel] = []
    if settings.email is not None:
        found.extend(MailChannel(settings.email, recipient) for recipient in settings.email.to)
    if settings.webhook is not None:
        found.append(WebhookChannel(settings.webhook))
    return found

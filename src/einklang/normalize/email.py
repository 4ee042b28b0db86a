"""E-mail addresses: syntax check and a canonical lowercase form."""

from __future__ import annotations

import re

import email_validator
from email_validator import EmailNotValidError, validate_email

from einklang.normalize.errors import InvalidValue
from einklang.normalize.text import clean_text

_ANGLE_ADDRESS = re.compile(r"<([^<>]*)>\s*$")
_MAILTO = re.compile(r"^mailto:", re.I)
# Plain ASCII addresses are by far the most common; for them this conservative pattern accepts
# exactly what email-validator accepts, about 40 times faster (bulk loads validate every row).
_PLAIN_ADDRESS = re.compile(
    r"^(?=.{1,64}@)[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?=.{1,253}$)"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
_SPECIAL_USE = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_USE_SUBDOMAINS = tuple("." + special for special in _SPECIAL_USE)


def _plain_address(text: str) -> str | None:
    lowered = text.lower()
    if not _PLAIN_ADDRESS.match(lowered):
        return None
    domain = lowered.rpartition("@")[2]
    if domain in _SPECIAL_USE or domain.endswith(_SPECIAL_USE_SUBDOMAINS):
        return None
    return lowered


def normalize_email(raw: str) -> str:
    """Return the address in lowercase, from ``a@b.de``, ``mailto:a@b.de`` or ``Name <a@b.de>``.

    Only the syntax is checked (no DNS).  Raises InvalidValue.
    """
    text = clean_text(raw)
    if text is None:
        raise InvalidValue("empty e-mail address", raw)
    if text.lower().startswith("/o="):
        # Outlook exports Exchange-internal contacts with an X.500 path instead of an address.
        raise InvalidValue("an Exchange X.500 address, not an e-mail address", raw)
    angle = _ANGLE_ADDRESS.search(text)
    if angle:
        text = angle.group(1).strip()
    if text[6:7] == ":":  # "mailto:" can only match then; the check is cheaper than the regex
        text = _MAILTO.sub("", text)
    text = text.split("?", 1)[0].strip()
    plain = _plain_address(text)
    if plain is not None:
        return plain
    try:
        validated = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidValue(f"not a valid e-mail address: {error}", raw) from None
    return validated.normalized.lower()


# Mailbox providers anyone can sign up with: a shared domain there says nothing about a shared
# employer (matching) and names no company to attach a contact to (import).
FREEMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "web.de",
        "gmx.de",
        "gmx.net",
        "gmx.at",
        "gmx.ch",
        "t-online.de",
        "yahoo.com",
        "yahoo.de",
        "hotmail.com",
        "hotmail.de",
        "outlook.com",
        "outlook.de",
        "live.com",
        "live.de",
        "icloud.com",
        "me.com",
        "aol.com",
        "freenet.de",
        "posteo.de",
        "mailbox.org",
        "arcor.de",
        "online.de",
        "1und1.de",
        "vodafone.de",
        "protonmail.com",
        "proton.me",
    }
)

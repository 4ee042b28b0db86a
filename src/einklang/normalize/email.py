"""E-mail addresses: syntax check and a canonical lowercase form."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from einklang.normalize.errors import InvalidValue
from einklang.normalize.text import clean_text

_ANGLE_ADDRESS = re.compile(r"<([^<>]*)>\s*$")
_MAILTO = re.compile(r"^mailto:", re.I)


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
    text = _MAILTO.sub("", text).split("?", 1)[0].strip()
    try:
        validated = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidValue(f"not a valid e-mail address: {error}", raw) from None
    return validated.normalized.lower()

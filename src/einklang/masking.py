"""Secrets never appear in output, logs or the state store: what is registered is masked.

Values come in as secrets from ``${VAR}`` interpolation, a secrets file, keys that look like
secrets (``password``, ``token`` ...) and the password and secret query parameters of every
URL in the config, found by parsing the URL (a password may hold ``/``, ``@`` or spaces).
:func:`mask` replaces each registered value in a text, and also URL passwords and secret
query parameters it finds in text that were never registered (a driver's error message
quoting a connection string). Short secrets (under 4 characters) are masked where they stand
as a whole token, so that masking "ab" does not garble every word containing it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

MASK = "***"
SECRET_KEY_PATTERN = re.compile(r"(password|passwd|pwd|secret|token|api_key|apikey|credential)", re.I)
_SHORT = 4  # secrets shorter than this are masked only as whole tokens

# scheme://user:password@ — the password runs to the last "@" of the whitespace-free token
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<pw>\S*)@(?=[^@\s]*$|[^@\s]*\s)")
_SECRET_QUERY = re.compile(
    r"(?P<head>[?&;](?:[\w.\-]*(?:password|passwd|pwd|secret|token|api_key|apikey|credential)[\w.\-]*)=)(?P<value>[^&;#\s]*)",
    re.I,
)


class SecretRegistry:
    """Values that must never be printed."""

    def __init__(self) -> None:
        self._long: set[str] = set()
        self._short: set[str] = set()
        self._short_pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if not value or value == MASK:
            return
        if len(value) >= _SHORT:
            self._long.add(value)
        elif value not in self._short:
            self._short.add(value)
            alternatives = "|".join(re.escape(v) for v in sorted(self._short, key=len, reverse=True))
            self._short_pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    def mask(self, text: str) -> str:
        for value in sorted(self._long, key=len, reverse=True):
            text = text.replace(value, MASK)
        if self._short_pattern is not None:
            text = self._short_pattern.sub(MASK, text)
        return mask_unregistered(text)


SECRETS = SecretRegistry()


def register(value: str) -> None:
    """Never print ``value`` (nor its URL-decoded form, nor either as ``repr`` writes it)."""
    decoded = unquote(value)
    for form in {value, decoded}:
        SECRETS.add(form)
        # messages quote values with {value!r}: a quote, backslash or control character is escaped there
        escaped = repr(form)[1:-1]
        if escaped != form:
            SECRETS.add(escaped)


def mask(text: str) -> str:
    return SECRETS.mask(text)


def mask_unregistered(text: str) -> str:
    """URL passwords and secret query parameters in ``text``, whether registered or not."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _SECRET_QUERY.sub(lambda m: f"{m['head']}{MASK}" if m["value"] else m[0], text)


def register_url_secrets(url: str) -> None:
    """Register the password and the secret query parameters of a URL, found by parsing it.

    The user info ends at the last ``@`` before the host, so a password may hold ``/``, ``@``,
    ``:`` or spaces, written plainly or percent-encoded.
    """
    scheme_end = url.find("://")
    if scheme_end < 0:
        return
    rest = url[scheme_end + 3 :]
    query = ""
    if "?" in rest:
        rest, _, query = rest.partition("?")
    at = rest.rfind("@")
    if at >= 0:
        userinfo = rest[:at]
        if ":" in userinfo:
            register(userinfo.split(":", 1)[1])
    for key, value in parse_qsl(query.partition("#")[0], keep_blank_values=False):
        if SECRET_KEY_PATTERN.search(key):
            register(value)

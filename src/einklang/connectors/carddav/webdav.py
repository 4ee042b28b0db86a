"""The WebDAV/CardDAV XML einklang sends and reads (multistatus answers, sync tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote
from xml.etree import ElementTree

DAV = "DAV:"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
NS = {"D": DAV, "C": CARDDAV}
XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}


# --- WebDAV ---------------------------------------------------------------------------------------


@dataclass
class Entry:
    href: str
    status: int
    etag: str | None = None
    card_text: str | None = None


def parse_multistatus(body: bytes) -> tuple[list[Entry], str | None]:
    root = ElementTree.fromstring(body)
    entries: list[Entry] = []
    for response in root.findall("D:response", NS):
        href = unquote((response.findtext("D:href", "", NS) or "").strip())
        status = _status_code(response.findtext("D:status", None, NS))
        etag = card_text = None
        for propstat in response.findall("D:propstat", NS):
            prop_status = _status_code(propstat.findtext("D:status", None, NS))
            if prop_status != 200:
                continue
            status = 200 if status is None else status
            etag = propstat.findtext("D:prop/D:getetag", None, NS) or etag
            card_text = propstat.findtext("D:prop/C:address-data", None, NS) or card_text
        entries.append(Entry(href, status or 200, etag.strip() if etag else None, card_text))
    token = root.findtext("D:sync-token", None, NS)
    return entries, token.strip() if token else None


def _status_code(status_line: str | None) -> int | None:
    if not status_line:
        return None
    parts = status_line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

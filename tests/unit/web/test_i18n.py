"""German and English: negotiation, the switch, and a German wording for every text used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from tests.unit.web.site import csrf_of

from einklang.web import i18n

WEB = Path(i18n.__file__).parent


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("en-US,en;q=0.9,de;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,de;q=0.5", "de"),
        ("fr", "en"),
        ("de;q=0.1,en;q=0.2", "en"),
        ("de;q=0", "en"),
        ("de;q=abc", "en"),
    ],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_the_user_setting_wins_over_cookie_and_browser() -> None:
    assert i18n.choose_language("en", "de", "de") == "en"
    assert i18n.choose_language(None, "de", "en") == "de"
    assert i18n.choose_language(None, "xx", "de") == "de"


def _texts_used() -> set[str]:
    texts: set[str] = set()
    for template in (WEB / "templates").glob("*.html"):
        texts.update(re.findall(r'(?<![\w.])t\("((?:[^"\\]|\\.)*)"', template.read_text(encoding="utf-8")))
        texts.update(re.findall(r"(?<![\w.])t\('((?:[^'\\]|\\.)*)'", template.read_text(encoding="utf-8")))
    for module in WEB.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) in ("t", "refuse")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                texts.add(node.args[0].value)
    return texts


def test_every_text_has_a_german_wording() -> None:
    used = _texts_used()
    assert len(used) > 80
    missing = sorted(text for text in used if text not in i18n.GERMAN)
    assert missing == []


def test_pages_follow_the_browser_and_the_switch(make_client) -> None:
    client = make_client("viewer")
    assert "Übersicht" in client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    page = client.get("/", headers={"Accept-Language": "en"})
    assert "Overview" in page.text and "Übersicht" not in page.text
    client.post("/language", data={"csrf": csrf_of(page.text), "language": "de", "back": "/conflicts"})
    assert "Konflikte" in client.get("/conflicts", headers={"Accept-Language": "en"}).text

"""German and English: negotiation, the switch, and a German wording for every text used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
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


_TAGS = st.sampled_from(["de", "de-DE", "de-AT", "en", "en-GB", "fr", "it", "*", "x-klingon"])
_QUALITY = st.one_of(st.none(), st.sampled_from(["1", "0.9", "0.5", "0.1", "0", "abc"]))


@given(st.lists(st.tuples(_TAGS, _QUALITY), max_size=6))
def test_negotiation_picks_the_best_ranked_language_the_app_speaks(parts: list[tuple[str, str | None]]) -> None:
    header = ", ".join(tag if quality is None else f"{tag};q={quality}" for tag, quality in parts)

    def quality_of(text: str | None) -> float:
        try:
            return 1.0 if text is None else float(text)
        except ValueError:
            return 0.0

    ranked = [
        (-quality_of(quality), index, tag.split("-")[0].lower())
        for index, (tag, quality) in enumerate(parts)
        if quality_of(quality) > 0 and tag.split("-")[0].lower() in i18n.LANGUAGES
    ]
    expected = min(ranked)[2] if ranked else i18n.DEFAULT_LANGUAGE
    assert i18n.negotiate(header) == expected

"""Browser tests: the web app served by uvicorn, driven by Playwright through Debian's Chromium.

Playwright cannot download its own browser here, so the tests launch ``/usr/bin/chromium``
(``EINKLANG_CHROMIUM`` names another; ``scripts/servers/chromium.sh`` installs it). Without it
the tests skip, saying why — except under ``CI=true``, where they fail: CI must not turn green
by skipping them. ``EINKLANG_SCREENSHOTS=DIR`` keeps the German screenshots the tests take in
DIR (``docs/screenshots`` holds the ones the docs show).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from tests.unit.web.site import PASSWORD, Site, build_site, copy_site

from einklang.web import build_web_app
from einklang.web.security import WebSettings

CHROMIUM = os.environ.get("EINKLANG_CHROMIUM", "/usr/bin/chromium")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"{reason} (scripts/servers/chromium.sh installs it)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def browser_site_template(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("browser-site-template"))


@pytest.fixture
def browser_site(browser_site_template: Site, tmp_path: Path) -> Site:
    return copy_site(browser_site_template, tmp_path / "site")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    site: Site
    app: Any


@pytest.fixture
def served(browser_site: Site) -> Iterator[Served]:
    """The site's web app on a free port (uvicorn in a thread), stopped after the test."""
    loaded = browser_site.loaded()
    store = browser_site.store()
    app = build_web_app(loaded, store, None, settings=WebSettings())
    port = _free_port()
    # log_config and log_level None: uvicorn leaves the process's loggers as they are (a level set
    # on "uvicorn.access" here would hide access lines from later tests in the same process)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", browser_site, app)
    app.state.web.runtime.wait(60)
    server.should_exit = True
    thread.join(30)
    store.close()


@pytest.fixture
def new_page(browser: Any, served: Served) -> Iterator[Any]:
    """``new_page(user, lang="de")``: a page of a fresh browser context, signed in as ``user``."""
    contexts = []

    def make(user: str | None = None, lang: str = "de", width: int = 1280, height: int = 860) -> Any:
        context = browser.new_context(
            locale="de-DE" if lang == "de" else "en-US", viewport={"width": width, "height": height}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        if user is not None:
            sign_in(page, served.url, user)
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, url: str, user: str, password: str = PASSWORD) -> None:
    page.goto(url + "/")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.locator("form[action='/login'] button").click()
    page.wait_for_url(url + "/")


def screenshot(page: Any, name: str) -> None:
    """Keep a screenshot when EINKLANG_SCREENSHOTS names a folder (the docs' pictures)."""
    folder = os.environ.get("EINKLANG_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

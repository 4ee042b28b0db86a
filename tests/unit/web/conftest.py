"""Fixtures of the web app's tests: a site per test (copied from one built per session) and
signed-in clients of each role."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.unit.web.site import PASSWORD, Site, build_site, copy_site

from einklang.web import build_web_app
from einklang.web.runtime import OnDemandCycles
from einklang.web.security import WebSettings


@pytest.fixture(scope="session")
def site_template(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("web-site-template"))


@pytest.fixture
def site(site_template: Site, tmp_path: Path) -> Site:
    return copy_site(site_template, tmp_path / "site")


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login", data={"username": name, "password": password, "login_csrf": token.group(1), "next": "/"}
    )
    assert response.status_code == 200 and response.url.path == "/", response.text


@pytest.fixture
def make_client(site: Site) -> Iterator[Callable[..., TestClient]]:
    """``make_client(user=None, settings=None, https=False)``: a client of the site's app, signed in as ``user``."""
    stores = []
    clients = []

    def make(user: str | None = None, settings: WebSettings | None = None, https: bool = False) -> TestClient:
        loaded = site.loaded()
        store = site.store()
        stores.append(store)
        app = build_web_app(loaded, store, None, settings=settings or WebSettings())
        client = TestClient(app, follow_redirects=True, base_url="https://testserver" if https else "http://testserver")
        clients.append(client)
        if user is not None:
            sign_in(client, user)
        return client

    yield make
    for client in clients:
        runtime = client.app.state.web.runtime  # type: ignore[attr-defined]
        if isinstance(runtime, OnDemandCycles):
            runtime.wait(60)
        client.close()
    for store in stores:
        store.close()

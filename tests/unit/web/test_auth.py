"""Sign-in, sessions, API tokens, the proxy header, CSRF and roles."""

from __future__ import annotations

import re

from starlette.testclient import TestClient
from tests.unit.web.conftest import sign_in
from tests.unit.web.site import PASSWORD, Site, csrf_of

from einklang.web import accounts
from einklang.web.security import SESSION_COOKIE, LoginLimiter, WebSettings


def _login_token(client: TestClient) -> str:
    found = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def test_every_page_and_api_call_needs_a_sign_in(make_client) -> None:
    client = make_client()
    for path in ("/", "/conflicts", "/reviews", "/records", "/runs", "/conflicts/1", "/overview/panel"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    for path in ("/api/v1/overview", "/api/v1/conflicts", "/api/v1/openapi.json", "/api/v1/runs"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["kind"] == "unauthorized"
    assert client.post("/api/v1/conflicts/1/decision", json={"take": "erp"}).status_code == 401


def test_sign_in_sets_a_protected_session_cookie_and_sign_out_ends_it(make_client) -> None:
    client = make_client()
    token = _login_token(client)
    response = client.post(
        "/login",
        data={"username": "sabine", "password": PASSWORD, "login_csrf": token, "next": "/conflicts"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/conflicts"
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    page = client.get("/")
    assert "sabine" in page.text
    client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_secure_cookie_over_https_or_when_configured(make_client) -> None:
    client = make_client(https=True)
    token = _login_token(client)
    response = client.post(
        "/login", data={"username": "sabine", "password": PASSWORD, "login_csrf": token}, follow_redirects=False
    )
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert "Secure" in cookie
    client = make_client(settings=WebSettings(secure_cookies="always"), https=True)
    token = _login_token(client)
    response = client.post(
        "/login", data={"username": "sabine", "password": PASSWORD, "login_csrf": token}, follow_redirects=False
    )
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert "Secure" in cookie


def test_a_wrong_password_is_refused_and_repeated_failures_are_limited(make_client) -> None:
    client = make_client(settings=WebSettings(login_attempts=3))
    token = _login_token(client)
    for _ in range(3):
        response = client.post("/login", data={"username": "sabine", "password": "wrong-one", "login_csrf": token})
        assert response.status_code == 401
        assert "wrong" in response.text
    # now even the right password waits: the limit is per user name and address
    response = client.post("/login", data={"username": "sabine", "password": PASSWORD, "login_csrf": token})
    assert response.status_code == 429
    # another user from the same address is not blocked
    response = client.post("/login", data={"username": "anna", "password": PASSWORD, "login_csrf": token})
    assert response.status_code == 200 and response.url.path == "/"


def test_the_limiter_forgets_failures_older_than_its_window() -> None:
    now = [1000.0]
    limiter = LoginLimiter(attempts=2, window=60, clock=lambda: now[0])
    limiter.failed("sabine", "10.0.0.1")
    limiter.failed("Sabine", "10.0.0.1")
    assert limiter.blocked_for("sabine", "10.0.0.1") == 60
    assert limiter.blocked_for("sabine", "10.0.0.2") == 0
    now[0] += 61
    assert limiter.blocked_for("sabine", "10.0.0.1") == 0


def test_sign_in_form_without_its_token_is_refused(make_client) -> None:
    client = make_client()
    client.get("/login")
    response = client.post("/login", data={"username": "sabine", "password": PASSWORD, "login_csrf": "forged"})
    assert response.status_code == 403


def test_a_form_without_csrf_token_is_refused(make_client, site: Site) -> None:
    client = make_client("sabine")
    response = client.post("/conflicts/1/decide", data={"choice": "take:erp"})
    assert response.status_code == 403
    assert "expired" in response.text or "abgelaufen" in response.text
    response = client.post("/conflicts/1/decide", data={"choice": "take:erp", "csrf": "not-the-token"})
    assert response.status_code == 403
    # the session's API calls need the header too
    assert client.post("/api/v1/conflicts/1/decision", json={"take": "erp"}).status_code == 403
    from tests.unit.web.site import open_conflicts

    assert [c.status for c in open_conflicts(site)] == ["open"]


def test_a_viewer_sees_but_cannot_decide(make_client) -> None:
    client = make_client("viewer")
    page = client.get("/conflicts/1")
    assert page.status_code == 200
    assert 'action="/conflicts/1/decide"' not in page.text
    response = client.post("/conflicts/1/decide", data={"choice": "take:erp", "csrf": csrf_of(page.text)})
    assert response.status_code == 403
    me = client.get("/api/v1/me").json()
    response = client.post("/api/v1/conflicts/1/decision", json={"take": "erp"}, headers={"X-CSRF-Token": me["csrf"]})
    assert response.status_code == 403 and response.json()["error"]["role"] == "steward"


def test_a_steward_cannot_undo_or_start_cycles(make_client) -> None:
    client = make_client("sabine")
    csrf = csrf_of(client.get("/").text)
    assert client.post("/cycle", data={"csrf": csrf}).status_code == 403
    assert client.get("/runs/2/undo").status_code == 403
    assert client.post("/runs/2/undo", data={"csrf": csrf}).status_code == 403


def test_api_tokens_sign_calls_without_cookies_or_csrf(make_client, site: Site) -> None:
    store = site.store()
    with store.transaction() as conn:
        token = accounts.create_token(conn, "sabine", "script")
        hashes = [row[0] for row in conn.exec_driver_sql("SELECT token_hash FROM api_tokens")]
    store.close()
    assert token not in hashes  # stored hashed only
    client = make_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).json()["user"]["name"] == "sabine"
    response = client.post("/api/v1/conflicts/1/decision", json={"take": "erp"}, headers=headers)
    assert response.status_code == 200, response.text
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer ek_wrong"}).status_code == 401


def test_the_proxy_header_is_trusted_only_when_configured(make_client) -> None:
    plain = make_client()
    response = plain.get("/api/v1/me", headers={"X-Remote-User": "anna"})
    assert response.status_code == 401
    # TestClient connects from "testclient"; the proxy's address must be the configured one
    settings = WebSettings(proxy_user_header="X-Remote-User", proxy_addresses=("testclient",))
    proxied = make_client(settings=settings)
    response = proxied.get("/api/v1/me", headers={"X-Remote-User": "anna"})
    assert response.status_code == 200 and response.json()["user"]["role"] == "admin"
    assert proxied.get("/api/v1/me", headers={"X-Remote-User": "nobody"}).status_code == 401
    elsewhere = make_client(settings=WebSettings(proxy_user_header="X-Remote-User", proxy_addresses=("10.1.1.1",)))
    assert elsewhere.get("/api/v1/me", headers={"X-Remote-User": "anna"}).status_code == 401


def test_password_change_ends_the_users_sessions(make_client, site: Site) -> None:
    client = make_client("sabine")
    assert client.get("/", follow_redirects=False).status_code == 200
    store = site.store()
    with store.transaction() as conn:
        accounts.set_password(conn, "sabine", "another-password-2")
    store.close()
    assert client.get("/", follow_redirects=False).status_code == 303
    sign_in(client, "sabine", "another-password-2")


def test_an_admin_manages_users_in_the_browser(make_client) -> None:
    admin = make_client("anna")
    page = admin.get("/users")
    assert page.status_code == 200 and "sabine" in page.text
    added = admin.post(
        "/users", data={"csrf": csrf_of(page.text), "name": "klaus", "role": "steward", "password": "klaus-pass-1"}
    )
    assert added.status_code == 200 and "klaus" in added.text
    refused = admin.post("/users", data={"csrf": csrf_of(page.text), "name": "k l", "role": "viewer", "password": "x"})
    assert refused.status_code == 400
    sign_in(make_client(), "klaus", "klaus-pass-1")
    admin.post("/users/klaus/remove", data={"csrf": csrf_of(page.text)})
    assert "klaus" not in admin.get("/users").text
    assert admin.post("/users/anna/remove", data={"csrf": csrf_of(page.text)}).status_code == 400
    steward = make_client("sabine")
    assert steward.get("/users").status_code == 403
    assert 'href="/users"' not in steward.get("/").text

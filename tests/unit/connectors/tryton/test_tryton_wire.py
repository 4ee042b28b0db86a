"""Tryton's JSON-RPC session against a scripted transport: errors inside HTTP 200 answers, and
logging in again when the server forgot the session (no server can be made to do that on demand)."""

from __future__ import annotations

import pytest

from einklang.connectors.base import RecordRejected, StaleVersion
from einklang.connectors.tryton import TrytonSession


def test_errors_in_http_200_answers_and_session_renewal() -> None:
    import json as jsonlib

    import httpx

    calls: list[str] = []
    logins = iter(["s1", "s2"])
    expired_once = iter([True])

    def handle(request: httpx.Request) -> httpx.Response:
        body = jsonlib.loads(request.content)
        method = body["method"]
        calls.append(method)
        if method == "common.db.login":
            return httpx.Response(200, json={"id": body["id"], "result": [1, next(logins), None]})
        if method == "model.res.user.get_preferences":
            return httpx.Response(200, json={"id": body["id"], "result": {"language": "en", "locale": {}}})
        if method == "model.party.party.search" and next(expired_once, False):
            return httpx.Response(401)  # the server forgot the session (restart, timeout)
        if method == "model.party.party.search":
            return httpx.Response(200, json={"id": body["id"], "result": [7]})
        if method == "model.party.party.write":
            error = ["ConcurrencyException", "Records were modified in the meanwhile"]
            return httpx.Response(200, json={"id": body["id"], "error": error})
        error = ["UserError", ['A value is required for field "Name"', "", None]]
        return httpx.Response(200, json={"id": body["id"], "error": error})

    session = TrytonSession(
        "erp",
        {"url": "http://erp.test", "database": "db", "user": "admin", "password": "x"},
        transport=httpx.MockTransport(handle),
    )
    assert session.model("party.party", "search", [], 0, None, None) == [7]
    assert calls.count("common.db.login") == 2  # logged in again after the 401
    with pytest.raises(StaleVersion):
        session.model("party.party", "write", [7], {"name": "x"})
    with pytest.raises(RecordRejected, match='A value is required for field "Name"'):
        session.model("party.party", "create", [{}])

"""The web app (another package, ``einklang.web.app``) is mounted at ``/`` when it is installed.

On a branch without it, a stand-in module plays its part: the contract is the factory's name and
arguments, ``build_web_app(loaded_config, store, runtime) -> Starlette``.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from einklang.service.app import build_service_app
from einklang.service.metrics import ServiceMetrics
from einklang.service.runtime import ServiceRuntime
from einklang.store.state import store_for_config

from .world import linked_world


def _stand_in(received: list[tuple[Any, ...]]) -> types.ModuleType:
    module = types.ModuleType("einklang.web.app")

    def build_web_app(loaded: Any, store: Any, runtime: Any) -> Starlette:
        received.append((loaded, store, runtime))

        def page(request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"web app: {request.url.path}")

        return Starlette(routes=[Route("/", page), Route("/healthz", page), Route("/conflicts", page)])

    module.build_web_app = build_web_app  # type: ignore[attr-defined]
    return module


def test_the_web_app_is_mounted_and_the_operations_routes_stay_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[tuple[Any, ...]] = []
    monkeypatch.setitem(sys.modules, "einklang.web", types.ModuleType("einklang.web"))
    monkeypatch.setitem(sys.modules, "einklang.web.app", _stand_in(received))
    loaded = linked_world(tmp_path)
    store = store_for_config(loaded)
    runtime = ServiceRuntime(loaded, store)
    client = TestClient(build_service_app(loaded, store, runtime, ServiceMetrics(loaded, store)))
    assert received == [(loaded, store, runtime)]
    assert client.get("/conflicts").text == "web app: /conflicts"
    assert client.get("/").text == "web app: /"
    assert client.get("/healthz").json()["ok"] is True  # not the web app's
    store.close()


def test_without_the_web_app_only_the_operations_routes_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "einklang.web.app", None)  # an installation without it
    loaded = linked_world(tmp_path)
    store = store_for_config(loaded)
    client = TestClient(build_service_app(loaded, store, ServiceRuntime(loaded, store), ServiceMetrics(loaded, store)))
    assert client.get("/healthz").status_code == 200
    assert client.get("/conflicts").status_code == 404
    assert "serving /healthz, /readyz, /metrics only" in caplog.text
    store.close()

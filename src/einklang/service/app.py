"""The ASGI app of ``einklang serve``: its own operations routes, and the web app mounted at ``/``.

``/healthz`` (the process and its scheduler live), ``/readyz`` (the state store answers: 200 or 503) and
``/metrics`` (Prometheus; a bearer token when ``service.metrics_token`` or
``$EINKLANG_METRICS_TOKEN`` is set) and ``/hooks/bottlecrm/{system}`` (BottleCRM's webhooks, signed:
:mod:`einklang.service.hooks`) need no login. Everything else belongs to the web app
(:func:`einklang.web.app.build_web_app`), imported only here: a build without it serves the
operations routes alone and says so in the log.
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from einklang import masking
from einklang.masking import mask
from einklang.service.hooks import webhook_routes

if TYPE_CHECKING:
    from einklang.config import LoadedConfig
    from einklang.service.metrics import ServiceMetrics
    from einklang.service.runtime import ServiceRuntime
    from einklang.store.state import StateStore

log = logging.getLogger("einklang.service")

METRICS_TOKEN_ENV = "EINKLANG_METRICS_TOKEN"
WEB_APP_MODULE = "einklang.web.app"


def metrics_token(config: LoadedConfig) -> str | None:
    token = config.model.service.metrics_token or os.environ.get(METRICS_TOKEN_ENV) or None
    if token:
        masking.register(token)
    return token


def build_service_app(
    config: LoadedConfig, store: StateStore, runtime: ServiceRuntime, metrics: ServiceMetrics
) -> Starlette:
    token = metrics_token(config)

    def healthz(_request: Request) -> Response:
        if not runtime.healthy():  # a process without its scheduler must be restarted
            return JSONResponse({"ok": False, "scheduler": "dead"}, status_code=503)
        return JSONResponse({"ok": True, "scheduler": "running" if runtime.is_alive() else "stopped"})

    def readyz(_request: Request) -> Response:
        import sqlalchemy as sa

        try:
            with store.read() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            reason = mask(" ".join(str(exc).split())[:300])
            log.warning("readyz: the state store does not answer: %s", reason)
            return JSONResponse({"ok": False, "state_store": "unreachable", "reason": reason}, status_code=503)
        return JSONResponse({"ok": True, "state_store": "reachable"})

    def metrics_endpoint(request: Request) -> Response:
        if token is not None and not _bearer_matches(request, token):
            return PlainTextResponse(
                "a bearer token is required\n", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
            )
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *webhook_routes(config, runtime, metrics),  # signed by the sender, no login
    ]
    web_app = _web_app(config, store, runtime)
    if web_app is not None:
        routes.append(Mount("/", app=web_app))
    return Starlette(routes=routes)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # constant time: the comparison must not tell how much of a guess was right
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _web_app(config: LoadedConfig, store: StateStore, runtime: ServiceRuntime) -> Starlette | None:
    try:
        from einklang.web.app import build_web_app  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as missing:
        if missing.name is None or not WEB_APP_MODULE.startswith(missing.name):
            raise  # the web app is there but needs something missing: that is an error, not absence
        log.warning(
            "the web app (%s) is not part of this installation: serving /healthz, /readyz, /metrics only",
            WEB_APP_MODULE,
        )
        return None
    app: Starlette = build_web_app(config, store, runtime)
    return app

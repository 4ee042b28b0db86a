"""The web app and JSON API of ``einklang serve``: :func:`build_web_app`.

Server-rendered pages (Starlette, Jinja2, htmx served from ``static/``; nothing is loaded from
the internet), German and English, for the people who decide conflicts and duplicates; the same
functions as JSON under ``/api/v1/`` (see :mod:`einklang.web.api`). ``/healthz`` and
``/metrics`` belong to ``einklang serve``, not to this app.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from einklang.config import LoadedConfig
from einklang.store.state import StateStore
from einklang.web import accounts, api, pages, pages_more
from einklang.web.counts import LinkedCounts
from einklang.web.handling import TEMPLATES, WebState, endpoint, language_of, secure_cookie, set_session_cookie
from einklang.web.i18n import cycle_text, translator
from einklang.web.runtime import OnDemandCycles, SchedulerRuntime
from einklang.web.security import SESSION_COOKIE, LoginLimiter, WebSettings

STATIC = Path(__file__).parent / "static"
LOGIN_CSRF_COOKIE = "einklang_login"


def _safe_next(target: str | None) -> str:
    """Only a path of this app (never another site) after signing in."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def login_page(request: Request) -> Response:
    state: WebState = request.app.state.web
    lang = language_of(request, None)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = state.templates.TemplateResponse(
        request,
        "login.html",
        {
            "t": translator(lang),
            "lang": lang,
            "principal": None,
            "next": _safe_next(request.query_params.get("next")),
            "login_csrf": token,
            "error": None,
            "path": "/login",
        },
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookie(request, state.settings)
    )
    return response


async def login(request: Request) -> Response:
    """Sign in; refused after too many failures for the same name from the same address."""
    state: WebState = request.app.state.web
    lang = language_of(request, None)
    t = translator(lang)
    form = await request.form()
    name = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    address = request.client.host if request.client else ""

    def refuse(message: str, status: int) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        return state.templates.TemplateResponse(
            request,
            "login.html",
            {
                "t": t,
                "lang": lang,
                "principal": None,
                "next": target,
                "login_csrf": token,
                "error": message,
                "path": "/login",
            },
            status_code=status,
        )

    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie_token or not secrets.compare_digest(cookie_token, str(form.get("login_csrf", ""))):
        return refuse(t("The form has expired or did not come from this page: load the page again and repeat."), 403)
    wait = state.limiter.blocked_for(name, address)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        return refuse(t("Too many failed sign-ins: try again in {minutes} minutes.", minutes=minutes), 429)

    def check() -> str | None:
        with state.store.transaction() as conn:
            user = accounts.verify_password(conn, name, password)
            if user is None:
                return None
            return accounts.create_session(conn, user.id)[0]

    session_id = await run_in_threadpool(check)
    if session_id is None:
        state.limiter.failed(name, address)
        return refuse(t("The user name or the password is wrong."), 401)
    state.limiter.succeeded(name, address)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, state.settings, session_id)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def logout(ctx: Any) -> Response:
    """Sign out: the session ends on the server too."""
    if ctx.principal is not None and ctx.principal.session_id:
        with ctx.state.store.transaction() as conn:
            accounts.end_session(conn, ctx.principal.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _openapi(routes: list[BaseRoute]) -> Any:
    generator = SchemaGenerator(api.OPENAPI_INFO)

    def schema(_ctx: Any) -> Response:
        """
        summary: This description (OpenAPI 3).
        responses:
          200: {description: "the OpenAPI document"}
        """
        return JSONResponse(generator.get_schema(routes))

    return schema


def _api_routes() -> list[BaseRoute]:
    def r(path: str, view: Any, role: str = "viewer", methods: tuple[str, ...] = ("GET",)) -> Route:
        return Route("/api/v1" + path, endpoint(view, role, api=True), methods=list(methods))

    routes: list[BaseRoute] = [
        r("/me", api.me),
        r("/overview", api.overview),
        r("/conflicts", api.conflicts),
        r("/conflicts/{conflict_id:int}", api.conflict),
        r("/conflicts/{conflict_id:int}/decision", api.decide_conflict, "steward", ("POST",)),
        r("/reviews", api.reviews),
        r("/reviews/{run_id:int}/{review_id}", api.review),
        r("/reviews/{run_id:int}/{review_id}/decision", api.decide_review, "steward", ("POST",)),
        r("/reviews/{run_id:int}/{review_id}/assignment", api.assign_review, "steward", ("POST",)),
        r("/records", api.search_records),
        r("/records/{golden_id}", api.record),
        r("/isolated", api.isolated),
        r("/isolated/{outbox_id:int}/retry", api.retry, "steward", ("POST",)),
        r("/runs", api.runs),
        r("/runs/{run_id:int}/undo", api.undo_plan),
        r("/runs/{run_id:int}/undo", api.undo, "admin", ("POST",)),
        r("/cycles", api.trigger_cycle, "admin", ("POST",)),
    ]
    documented = list(routes)
    routes.append(Route("/api/v1/openapi.json", endpoint(_openapi(documented), api=True), methods=["GET"]))
    return routes


def _page_routes() -> list[BaseRoute]:
    def r(path: str, view: Any, role: str = "viewer", methods: tuple[str, ...] = ("GET",)) -> Route:
        return Route(path, endpoint(view, role), methods=list(methods), include_in_schema=False)

    return [
        Route("/login", login_page, methods=["GET"], include_in_schema=False),
        Route("/login", login, methods=["POST"], include_in_schema=False),
        r("/logout", logout, methods=("POST",)),
        r("/language", pages.set_language, methods=("POST",)),
        r("/", pages.overview_page),
        r("/overview/panel", pages.overview_panel),
        r("/cycle", pages.trigger_cycle, "admin", ("POST",)),
        r("/conflicts", pages.conflicts_page),
        r("/conflicts/{conflict_id:int}", pages.conflict_page),
        r("/conflicts/{conflict_id:int}/decide", pages.decide_conflict, "steward", ("POST",)),
        r("/reviews", pages_more.reviews_page),
        r("/reviews/{run_id:int}/{review_id}", pages_more.review_page),
        r("/reviews/{run_id:int}/{review_id}/preview", pages_more.review_preview, methods=("POST",)),
        r("/reviews/{run_id:int}/{review_id}/decide", pages_more.decide_review, "steward", ("POST",)),
        r("/reviews/{run_id:int}/{review_id}/assign", pages_more.assign_review, "steward", ("POST",)),
        r("/records", pages_more.records_page),
        r("/records/{golden_id}", pages_more.record_page),
        r("/isolated/{outbox_id:int}/retry", pages_more.retry_write, "steward", ("POST",)),
        r("/runs", pages.runs_page),
        r("/users", pages_more.users_page, "admin"),
        r("/users", pages_more.add_user, "admin", ("POST",)),
        r("/users/{name}/remove", pages_more.remove_user, "admin", ("POST",)),
        r("/runs/{run_id:int}/undo", pages.undo_confirm_page, "admin"),
        r("/runs/{run_id:int}/undo", pages.undo_run_action, "admin", ("POST",)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def build_web_app(
    loaded: LoadedConfig,
    store: StateStore,
    runtime: SchedulerRuntime | None,
    *,
    settings: WebSettings | None = None,
) -> Starlette:
    """The web app and the JSON API on ``store``. ``runtime``: the scheduler of ``einklang serve``,
    or None (a cycle then runs on an admin's request, see :class:`OnDemandCycles`).
    ``settings``: default from the ``EINKLANG_WEB_*`` environment variables (docs/web.md)."""
    settings = settings or WebSettings.from_environ()
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals["static_version"] = _static_version()
    templates.env.globals["cycle_text"] = cycle_text
    app = Starlette(routes=[*_page_routes(), *_api_routes()])
    app.state.web = WebState(
        loaded,
        store,
        runtime if runtime is not None else OnDemandCycles(loaded),
        settings,
        LoginLimiter(settings.login_attempts, settings.login_window),
        templates,
        LinkedCounts(store, list(loaded.model.entities)),
    )
    return app


def _static_version() -> str:
    """Changes when a static file changes, so browsers fetch the new one (``?v=`` on the links)."""
    newest = max((p.stat().st_mtime_ns for p in STATIC.iterdir() if p.is_file()), default=0)
    return str(newest)[-8:]

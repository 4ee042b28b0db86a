"""The frame every page and API call runs in: sign-in, role, CSRF check, language, templates.

A view is a plain function ``view(ctx) -> Response`` wrapped by :func:`endpoint`, which runs it
in a worker thread (the state store and the connectors block) after it has established who is
asking (:mod:`einklang.web.security`), whether their role may, and, for a POST, that the form
or call carries the session's CSRF token. Pages answer a missing sign-in with the sign-in page,
the API with 401; a role too weak gets 403 either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from einklang.config import LoadedConfig
from einklang.store.state import StateStore
from einklang.web import accounts
from einklang.web.counts import LinkedCounts
from einklang.web.i18n import Translator, choose_language, translator
from einklang.web.runtime import SchedulerRuntime
from einklang.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    Principal,
    WebSettings,
    csrf_matches,
)

TEMPLATES = Path(__file__).parent / "templates"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class WebState:
    """What every view may use: the config, the state store, the scheduler, settings."""

    loaded: LoadedConfig
    store: StateStore
    runtime: SchedulerRuntime
    settings: WebSettings
    limiter: LoginLimiter
    templates: Jinja2Templates
    linked_counts: LinkedCounts


@dataclass
class Ctx:
    """One request as a view sees it."""

    request: Request
    state: WebState
    principal: Principal | None
    lang: str
    t: Translator
    form: dict[str, str] = field(default_factory=dict)
    body: Any = None  # the parsed JSON body of an API call
    new_session: str | None = None  # a session opened for a proxy-authenticated user

    @property
    def user(self) -> str:
        assert self.principal is not None
        return self.principal.name

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params)

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        context = {
            "t": self.t,
            "lang": self.lang,
            "principal": self.principal,
            "csrf": self.principal.csrf if self.principal else None,
            "path": self.request.url.path,
            "flash": self.request.query_params.get("flash"),
            "flash_kind": self.request.query_params.get("kind", "ok"),
            **values,
        }
        return self.state.templates.TemplateResponse(self.request, template, context, status_code=status_code)


def secure_cookie(request: Request, settings: WebSettings) -> bool:
    if settings.secure_cookies == "always":
        return True
    if settings.secure_cookies == "never":
        return False
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, settings: WebSettings, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request, settings),
        path="/",
    )


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def authenticate(request: Request, state: WebState) -> tuple[Principal | None, str | None]:
    """Who signed this request; and a new session id when a proxy-authenticated user got one."""
    authorization = request.headers.get("authorization", "")
    # one short transaction; it writes only now and then (a session's expiry, a token's last use)
    with state.store.transaction() as conn:
        if authorization.lower().startswith("bearer "):
            user = accounts.token_user(conn, authorization[7:].strip())
            return (Principal(user, "token") if user else None), None
        session_id = request.cookies.get(SESSION_COOKIE)
        proxy_name = _proxy_user(request, state.settings)
        if session_id:
            found = accounts.session_user(conn, session_id)
            if found is not None and (proxy_name is None or found[0].name == proxy_name):
                return Principal(found[0], "session", found[1], session_id), None
        if proxy_name is not None:
            user = accounts.find_user(conn, proxy_name)
            if user is None or user.disabled:
                return None, None
            new_id, csrf = accounts.create_session(conn, user.id)
            return Principal(user, "proxy", csrf, new_id), new_id
    return None, None


def _proxy_user(request: Request, settings: WebSettings) -> str | None:
    if not settings.proxy_user_header or _client_address(request) not in settings.proxy_addresses:
        return None
    name = request.headers.get(settings.proxy_user_header, "").strip()
    return name or None


def language_of(request: Request, principal: Principal | None) -> str:
    return choose_language(
        principal.user.language if principal else None,
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
    )


def api_error(status: int, kind: str, message: str, **details: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "error": {"kind": kind, "message": message, **details}}, status_code=status)


View = Callable[[Ctx], Response]


def endpoint(view: View, role: str = "viewer", *, api: bool = False) -> Callable[[Request], Any]:
    """A Starlette endpoint running ``view`` for a signed-in user of at least ``role``."""

    async def handle(request: Request) -> Response:
        state: WebState = request.app.state.web
        principal, new_session = await run_in_threadpool(authenticate, request, state)
        lang = language_of(request, principal)
        t = translator(lang)
        if principal is None:
            if api:
                return api_error(401, "unauthorized", "sign in, or send Authorization: Bearer TOKEN")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": "/login"})
            return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        ctx = Ctx(request, state, principal, lang, t, new_session=new_session)
        if request.method in UNSAFE_METHODS:
            refused = await _read_body(ctx, api)
            if refused is not None:
                return refused
        if not principal.may(role):
            message = t("Your role may not do this ({role} needed).", role=t(role))
            if api:
                return api_error(403, "forbidden", message, role=role)
            return ctx.render("message.html", status_code=403, message=message)
        response: Response = await run_in_threadpool(view, ctx)
        if new_session is not None:
            set_session_cookie(response, request, state.settings, new_session)
        return response

    handle.__doc__ = view.__doc__
    handle.__name__ = view.__name__
    return handle


async def _read_body(ctx: Ctx, api: bool) -> Response | None:
    """Parse the form or JSON body and check the CSRF token; a response when refused."""
    request = ctx.request
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        try:
            ctx.body = json.loads(await request.body() or b"null")
        except ValueError:
            return api_error(400, "invalid", "the body is not valid JSON")
        if isinstance(ctx.body, dict):
            ctx.form = {str(k): "" if v is None else str(v) for k, v in ctx.body.items() if not isinstance(v, dict)}
    else:
        form = await request.form()
        ctx.form = {key: value for key, value in form.items() if isinstance(value, str)}
    assert ctx.principal is not None
    if ctx.principal.via == "token":
        return None  # no cookie sent the request: a forged cross-site request cannot carry the token
    given = request.headers.get(CSRF_HEADER) or ctx.form.get(CSRF_FIELD)
    if not csrf_matches(ctx.principal.csrf, given):
        message = ctx.t("The form has expired or did not come from this page: load the page again and repeat.")
        if api:
            return api_error(403, "csrf", message)
        return ctx.render("message.html", status_code=403, message=message)
    return None


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")

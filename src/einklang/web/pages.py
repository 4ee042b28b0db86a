"""The web app's pages: overview, conflicts, runs (records and duplicate review: :mod:`pages_more`).

Each view reads through :mod:`einklang.web.queries` and decides through the shared decision code
(:mod:`einklang.decide.conflicts`, :mod:`einklang.web.undoing`), so a page and its API call do the
same thing. A POST answers with a redirect (303) to the page that shows the outcome.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from einklang.web import queries
from einklang.web.handling import Ctx
from einklang.web.i18n import LANGUAGES
from einklang.web.runtime import schedule_lines
from einklang.web.security import LANGUAGE_COOKIE


def redirect(url: str, flash: str | None = None, kind: str = "ok", **params: str) -> RedirectResponse:
    query = dict(params)
    if flash:
        query.update(flash=flash, kind=kind)
    return RedirectResponse(url + (f"?{urlencode(query)}" if query else ""), status_code=303)


def not_found(ctx: Ctx) -> Response:
    return ctx.render("message.html", status_code=404, message=ctx.t("Not found."))


# ---------------------------------------------------------------------------- overview
def overview_data(ctx: Ctx) -> dict[str, Any]:
    linked, linked_as_of = ctx.state.linked_counts.get()
    with ctx.state.store.read() as conn:
        data = queries.overview(conn, ctx.state.loaded, linked)
        data["workers"] = queries.sync_workers(conn)
    data["linked_as_of"] = linked_as_of.isoformat(timespec="seconds")
    data["schedule"] = [line.as_dict() for line in schedule_lines(ctx.state.runtime)]
    return data


def overview_page(ctx: Ctx) -> Response:
    """Overview: systems, entities, last cycles; the panel refreshes itself (htmx)."""
    return ctx.render("overview.html", data=overview_data(ctx))


def overview_panel(ctx: Ctx) -> Response:
    return ctx.render("overview_panel.html", data=overview_data(ctx))


def trigger_cycle(ctx: Ctx) -> Response:
    """Run a sync cycle now (admin)."""
    entity = ctx.form.get("entity") or None
    started = ctx.state.runtime.trigger(entity)
    if started:
        return redirect("/", ctx.t("A sync cycle has been started."))
    return redirect("/", ctx.t("A sync cycle is already running."), "warn")


def set_language(ctx: Ctx) -> Response:
    from einklang.web.accounts import set_language as store_language

    language = ctx.form.get("language", "")
    back = ctx.form.get("back") or "/"
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = RedirectResponse(back, status_code=303)
    if language in LANGUAGES and ctx.principal is not None:
        with ctx.state.store.transaction() as conn:
            store_language(conn, ctx.principal.user.id, language)
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


# ---------------------------------------------------------------------------- conflicts
def conflicts_page(ctx: Ctx) -> Response:
    """Open conflicts, filtered by entity, system, field and age, a page at a time."""
    where = queries.ConflictFilter.from_params(ctx.query)
    page = int(ctx.query.get("page", "1")) if ctx.query.get("page", "1").isdigit() else 1
    with ctx.state.store.read() as conn:
        data = queries.list_conflicts(conn, ctx.state.loaded, where, page)
        fields = queries.conflict_fields(conn)
    loaded = ctx.state.loaded
    return ctx.render(
        "conflicts.html",
        data=data,
        where=where,
        params=where.as_params(),
        entities=list(loaded.model.entities),
        systems=list(loaded.model.systems),
        fields=fields,
    )


def conflict_page(ctx: Ctx, status_code: int = 200, message: str | None = None) -> Response:
    """One conflict: base and each system's value side by side, the other fields, the choice."""
    conflict_id = int(ctx.param("conflict_id"))
    with ctx.state.store.read() as conn:
        data = queries.conflict_detail(conn, ctx.state.loaded, conflict_id)
    if data is None:
        return not_found(ctx)
    return ctx.render("conflict.html", status_code=status_code, c=data, message=message)


def decide_conflict(ctx: Ctx) -> Response:
    """Store a decision (steward); refused when the conflict was decided or changed meanwhile."""
    conflict_id = int(ctx.param("conflict_id"))
    outcome = decide_conflicts(ctx, conflict_id, ctx.form)
    if outcome["ok"]:
        flash = ctx.t("Decision saved: the next sync cycle writes it to every system.")
        if outcome["decided"] > 1:
            flash = ctx.t("{count} conflicts decided.", count=outcome["decided"]) + " " + flash
        return redirect("/conflicts", flash)
    if outcome["kind"] == "not_found":
        return not_found(ctx)
    if outcome["kind"] == "stale":
        message = ctx.t(
            "This conflict was already decided or has changed: nothing was applied. Its current state is shown below."
        )
        return conflict_page(ctx, 409, message)
    return conflict_page(ctx, 400, outcome["message"])


def decide_conflicts(ctx: Ctx, conflict_id: int, form: dict[str, str]) -> dict[str, Any]:
    """Decide one conflict (and, when asked, every open one like it) in one transaction."""
    from einklang.decide.conflicts import Decision, DecisionError, decide, similar_open_conflicts

    choice = form.get("choice", "")  # the page's radio buttons: take:SYSTEM or value
    if choice:
        take = choice.removeprefix("take:") if choice.startswith("take:") else None
        value = form.get("value", "") if choice == "value" else None
    else:  # the API: {"take": SYSTEM} or {"value": TEXT}, exactly one
        take = form.get("take") or None
        value = form.get("value") if "value" in form else None
    try:
        decision = Decision(take=take, value=value)
        with ctx.state.store.transaction() as conn:
            conflict, resolution = decide(
                conn, ctx.state.loaded, conflict_id, decision, ctx.user, form.get("expected") or None
            )
            decided = [conflict_id]
            if form.get("apply_similar") in ("1", "on", "true"):
                for other in similar_open_conflicts(conn, conflict):
                    decide(conn, ctx.state.loaded, other.id, decision, ctx.user)
                    decided.append(other.id)
    except DecisionError as exc:
        return {"ok": False, "kind": exc.kind, "message": str(exc), "decided": 0}
    return {"ok": True, "decided": len(decided), "ids": decided, "resolution": resolution}


# ---------------------------------------------------------------------------- runs
def runs_page(ctx: Ctx) -> Response:
    """Imports, review runs, undos and cycles with their numbers; undo for admins."""
    with ctx.state.store.read() as conn:
        runs = queries.list_runs(conn)
    return ctx.render("runs.html", runs=runs)


def undo_confirm_page(ctx: Ctx) -> Response:
    """What an undo would revert, and the button that does it (admin)."""
    from einklang.importer.undo import UndoError
    from einklang.web.undoing import undo_plan

    run_id = int(ctx.param("run_id"))
    try:
        plan = undo_plan(ctx.state.loaded, ctx.state.store, run_id)
    except UndoError as exc:
        return ctx.render("message.html", status_code=400, message=str(exc))
    return ctx.render("undo.html", run_id=run_id, plan=plan, run=ctx.state.store.get_run(run_id))


def undo_run_action(ctx: Ctx) -> Response:
    from einklang.cli._common import CliError
    from einklang.importer.undo import UndoError
    from einklang.web.undoing import undo

    run_id = int(ctx.param("run_id"))
    try:
        report = undo(ctx.state.loaded, run_id, ctx.user)
    except CliError as busy:
        return redirect(
            "/runs",
            ctx.t("Another einklang process is writing; try again in a moment ({reason}).", reason=str(busy)),
            "error",
        )
    except UndoError as exc:
        return redirect("/runs", ctx.t("The undo failed: {reason}", reason=str(exc)), "error")
    summary = ctx.t(
        "{deleted} records deleted, {restored} restored, {unlinked} unlinked, {decisions} decisions reverted",
        deleted=report["deleted"],
        restored=report["restored"],
        unlinked=report["unlinked"],
        decisions=report["decisions_reverted"],
    )
    ctx.state.linked_counts.invalidate()
    kind = "ok" if not report["failed"] else "error"
    return redirect("/runs", ctx.t("Run {id} undone: {summary}", id=run_id, summary=summary), kind)

"""The web app's pages for records (search, one record, retry) and the duplicate review."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from einklang.web import records, reviewing
from einklang.web.handling import Ctx
from einklang.web.pages import not_found, redirect


# ---------------------------------------------------------------------------- records
def records_page(ctx: Ctx) -> Response:
    """Search golden records; the isolated records below."""
    text = ctx.query.get("q", "")
    with ctx.state.store.read() as conn:
        found = records.search_records(conn, ctx.state.loaded, text) if text.strip() else []
        isolated = records.isolated_writes(conn, ctx.state.loaded)
    return ctx.render("records.html", q=text, found=found, isolated=isolated)


def record_page(ctx: Ctx) -> Response:
    """One golden record: each system's values, links, history, isolated writes."""
    with ctx.state.store.read() as conn:
        data = records.record_detail(conn, ctx.state.loaded, ctx.param("golden_id"))
    if data is None:
        return not_found(ctx)
    return ctx.render("record.html", r=data)


def retry_write(ctx: Ctx) -> Response:
    """Queue a write that failed for good again (steward)."""
    outbox_id = int(ctx.param("outbox_id"))
    with ctx.state.store.transaction() as conn:
        queued = records.retry_isolated(conn, outbox_id, ctx.user)
    back = ctx.form.get("back") or "/records"
    if not back.startswith("/") or back.startswith("//"):
        back = "/records"
    if not queued:
        return not_found(ctx)
    return redirect(back, ctx.t("The write is queued again: the next sync cycle tries it."))


# ---------------------------------------------------------------------------- duplicate review
def _show_all(ctx: Ctx) -> bool:
    return ctx.query.get("show", "mine") == "all"


def reviews_page(ctx: Ctx) -> Response:
    """Rows of import reviews waiting for a decision: the user's own by default, or all."""
    show_all = _show_all(ctx)
    with ctx.state.store.read() as conn:
        rows = reviewing.open_rows(conn, None if show_all else ctx.user)
    return ctx.render("reviews.html", rows=[reviewing.row_summary(r) for r in rows], show_all=show_all)


def review_context(ctx: Ctx, run_id: int, review_id: str, form: dict[str, str] | None = None) -> dict[str, Any] | None:
    from einklang.web.accounts import list_users

    with ctx.state.store.read() as conn:
        row = reviewing.get_row(conn, run_id, review_id)
        users = [u.name for u in list_users(conn)]
    if row is None:
        return None
    candidates, unreadable = reviewing.live_candidates(ctx.state.loaded, row)
    form = form or {}
    number = int(form["merge_into"]) if form.get("merge_into", "").isdigit() else 1
    take = {name: form[f"take_{name}"] for name in row.incoming if form.get(f"take_{name}")}
    chosen = candidates[number - 1] if 1 <= number <= len(candidates) else (candidates[0] if candidates else None)
    preview = reviewing.merge_preview(row.incoming, chosen["values"] if chosen else {}, take)
    fields = list(dict.fromkeys([*row.incoming, *(name for c in candidates for name in c["values"])]))
    return {
        "row": reviewing.row_summary(row),
        "candidates": candidates,
        "unreadable": unreadable,
        "fields": fields,
        "merge_into": number,
        "take": take,
        "preview": preview,
        "users": users,
        "show": ctx.query.get("show", "mine"),
    }


def review_page(ctx: Ctx, status_code: int = 200, message: str | None = None) -> Response:
    """One row: the incoming record beside its candidates, the choices and the merged preview."""
    data = review_context(ctx, int(ctx.param("run_id")), ctx.param("review_id"))
    if data is None:
        return not_found(ctx)
    return ctx.render("review.html", status_code=status_code, v=data, message=message)


def review_preview(ctx: Ctx) -> Response:
    """The merged record for the choices in the form (htmx, on every change)."""
    data = review_context(ctx, int(ctx.param("run_id")), ctx.param("review_id"), ctx.form)
    if data is None:
        return not_found(ctx)
    return ctx.render("review_preview.html", v=data)


def decide_review(ctx: Ctx) -> Response:
    """Apply a decision (steward) with the code of `review apply`; then the next row, if asked."""
    from einklang.cli._common import CliError

    run_id, review_id = int(ctx.param("run_id")), ctx.param("review_id")
    try:
        report = reviewing.decide_row(ctx.state.loaded, run_id, review_id, ctx.form, ctx.user)
    except LookupError:
        return not_found(ctx)
    except ValueError as exc:
        return review_page(ctx, 400, str(exc))
    except CliError as busy:
        message = ctx.t("Another einklang process is writing; try again in a moment ({reason}).", reason=str(busy))
        return review_page(ctx, 409, message)
    if report["already_applied"]:
        return review_page(ctx, 409, ctx.t("This row was already decided."))
    if report["failed"]:
        reason = "; ".join(report["failures"]) or "?"
        return review_page(ctx, 409, ctx.t("The row could not be applied: {reason}", reason=reason))
    ctx.state.linked_counts.invalidate()
    flash = ctx.t("Row decided ({decision}).", decision=ctx.t(ctx.form.get("decision", "")))
    show = ctx.form.get("show", "mine")
    if ctx.form.get("next"):
        with ctx.state.store.read() as conn:
            rows = reviewing.open_rows(conn, None if show == "all" else ctx.user)
        following = reviewing.next_row(rows, (run_id, review_id))
        if following is not None:
            return redirect(f"/reviews/{following.run_id}/{following.review_id}", flash, show=show)
    return redirect("/reviews", flash, show=show)


def assign_review(ctx: Ctx) -> Response:
    """Give a row to a person (steward); empty: back to the owner of the export."""
    run_id, review_id = int(ctx.param("run_id")), ctx.param("review_id")
    with ctx.state.store.transaction() as conn:
        assigned = reviewing.assign(conn, run_id, review_id, ctx.form.get("user") or None)
    if not assigned:
        return not_found(ctx)
    return redirect(f"/reviews/{run_id}/{review_id}", show="all")


# ---------------------------------------------------------------------------- users (admin)
def users_page(ctx: Ctx, status_code: int = 200, message: str | None = None) -> Response:
    """The users and their roles; add, change the role of, or remove one (admin)."""
    from einklang.web.accounts import ROLES, list_users

    with ctx.state.store.read() as conn:
        users = list_users(conn)
    return ctx.render("users.html", status_code=status_code, users=users, roles=ROLES, message=message)


def add_user(ctx: Ctx) -> Response:
    from einklang.web.accounts import AccountError
    from einklang.web.accounts import add_user as store_user

    try:
        with ctx.state.store.transaction() as conn:
            user = store_user(conn, ctx.form.get("name", ""), ctx.form.get("role", ""), ctx.form.get("password", ""))
    except AccountError as exc:
        return users_page(ctx, 400, str(exc))
    return redirect("/users", ctx.t("User {name} added.", name=user.name))


def remove_user(ctx: Ctx) -> Response:
    from einklang.web.accounts import AccountError
    from einklang.web.accounts import remove_user as forget_user

    name = ctx.param("name")
    if name == ctx.user:
        return users_page(ctx, 400, ctx.t("You cannot remove yourself."))
    try:
        with ctx.state.store.transaction() as conn:
            forget_user(conn, name)
    except AccountError as exc:
        return users_page(ctx, 404, str(exc))
    return redirect("/users", ctx.t("User {name} removed.", name=name))

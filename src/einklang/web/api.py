"""The JSON API under ``/api/v1/``: everything the web app does, with the same roles.

Signed in by the session cookie (a POST then needs the ``X-CSRF-Token`` header) or by
``Authorization: Bearer TOKEN`` (``einklang users token NAME``). Each endpoint's docstring holds
its OpenAPI description, which Starlette's ``SchemaGenerator`` collects into
``/api/v1/openapi.json``: the API is small and served by the same Starlette app as the pages,
so a second framework (FastAPI) would add a dependency and a second way of doing things.
Errors: ``{"ok": false, "error": {"kind", "message"}}`` with 400, 401, 403, 404 or 409.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from einklang.web import queries, records, reviewing
from einklang.web.handling import Ctx, api_error
from einklang.web.pages import decide_conflicts, overview_data

OPENAPI_INFO = {
    "openapi": "3.0.3",
    "info": {
        "title": "einklang API",
        "version": "1",
        "description": "Conflicts, duplicate review, records and runs of einklang (see docs/web.md).",
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "einklang_session"},
        }
    },
    "security": [{"bearer": []}, {"session": []}],
}


def ok(data: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse({"ok": True, **data}, status_code=status_code)


def me(ctx: Ctx) -> Response:
    """
    summary: The signed-in user.
    responses:
      200: {description: "name, role, language"}
    """
    assert ctx.principal is not None
    user = ctx.principal.user
    return ok({"user": {"name": user.name, "role": user.role, "language": ctx.lang}, "csrf": ctx.principal.csrf})


def overview(ctx: Ctx) -> Response:
    """
    summary: Systems (reachable, last successful cycle, outbox, breaker), entities (counts), last cycles.
    responses:
      200: {description: "systems, entities, cycles, schedule"}
    """
    return ok(overview_data(ctx))


def conflicts(ctx: Ctx) -> Response:
    """
    summary: Open conflicts, a page at a time (50), oldest first.
    parameters:
      - {name: entity, in: query, schema: {type: string}}
      - {name: system, in: query, schema: {type: string}}
      - {name: field, in: query, schema: {type: string}}
      - {name: older_than_days, in: query, schema: {type: integer}}
      - {name: status, in: query, schema: {type: string, enum: [open, decided, resolved]}}
      - {name: page, in: query, schema: {type: integer}}
    responses:
      200: {description: "total, page, pages, conflicts"}
    """
    where = queries.ConflictFilter.from_params(ctx.query)
    page = ctx.query.get("page", "1")
    with ctx.state.store.read() as conn:
        data = queries.list_conflicts(conn, ctx.state.loaded, where, int(page) if page.isdigit() else 1)
    return ok(data)


def conflict(ctx: Ctx) -> Response:
    """
    summary: One conflict with the record's other fields and how many open conflicts are like it.
    parameters:
      - {name: conflict_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "the conflict"}
      404: {description: "no such conflict"}
    """
    with ctx.state.store.read() as conn:
        data = queries.conflict_detail(conn, ctx.state.loaded, int(ctx.param("conflict_id")))
    if data is None:
        return api_error(404, "not_found", "no such conflict")
    return ok({"conflict": data})


def decide_conflict(ctx: Ctx) -> Response:
    """
    summary: Decide a conflict (steward); written by the next sync cycle, audited with your name.
    description: >
      Body {"take": SYSTEM} or {"value": TEXT}; optional "expected" (the conflict's
      values_fingerprint as read: a conflict whose values changed since is refused) and
      "apply_similar": true (every open conflict of the same field with the same values).
    parameters:
      - {name: conflict_id, in: path, required: true, schema: {type: integer}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties:
              take: {type: string}
              value: {type: string}
              expected: {type: string}
              apply_similar: {type: boolean}
    responses:
      200: {description: "decided: the ids decided and the resolution"}
      400: {description: "a system or value that does not fit"}
      404: {description: "no such conflict"}
      409: {description: "stale: decided meanwhile or changed; the current state is returned"}
    """
    conflict_id = int(ctx.param("conflict_id"))
    form = dict(ctx.form)
    if isinstance(ctx.body, dict) and ctx.body.get("apply_similar") is True:
        form["apply_similar"] = "1"
    outcome = decide_conflicts(ctx, conflict_id, form)
    if outcome["ok"]:
        return ok({"decided": outcome["ids"], "resolution": outcome["resolution"]})
    status = {"not_found": 404, "stale": 409}.get(outcome["kind"], 400)
    current = None
    if outcome["kind"] == "stale":
        with ctx.state.store.read() as conn:
            current = queries.conflict_detail(conn, ctx.state.loaded, conflict_id)
    return api_error(status, outcome["kind"], outcome["message"], current=current)


def reviews(ctx: Ctx) -> Response:
    """
    summary: Review rows waiting for a decision (yours by default; ?show=all for every row).
    parameters:
      - {name: show, in: query, schema: {type: string, enum: [mine, all]}}
    responses:
      200: {description: "rows"}
    """
    show_all = ctx.query.get("show") == "all"
    with ctx.state.store.read() as conn:
        rows = reviewing.open_rows(conn, None if show_all else ctx.user)
    return ok({"rows": [reviewing.row_summary(row) for row in rows]})


def review(ctx: Ctx) -> Response:
    """
    summary: One review row with its candidates' current values.
    parameters:
      - {name: run_id, in: path, required: true, schema: {type: integer}}
      - {name: review_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "row, candidates, preview of a merge into candidate 1"}
      404: {description: "no such row"}
    """
    from einklang.web.pages_more import review_context

    data = review_context(ctx, int(ctx.param("run_id")), ctx.param("review_id"))
    if data is None:
        return api_error(404, "not_found", "no such review row")
    return ok({key: value for key, value in data.items() if key not in ("users", "show")})


def decide_review(ctx: Ctx) -> Response:
    """
    summary: Decide a review row (steward), applied at once with the code of `einklang review apply`.
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [decision]
            properties:
              decision: {type: string, enum: [merge, create, skip, not-duplicate]}
              merge_into: {type: integer, description: "candidate number, default 1"}
              take: {type: object, additionalProperties: {type: string, enum: [incoming, existing]}}
    parameters:
      - {name: run_id, in: path, required: true, schema: {type: integer}}
      - {name: review_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "the review run's report"}
      400: {description: "a decision that does not fit the row"}
      409: {description: "already decided, or the candidate changed since the import (re-checked)"}
    """
    from einklang.cli._common import CliError

    form = dict(ctx.form)
    if isinstance(ctx.body, dict) and isinstance(ctx.body.get("take"), dict):
        form.update({f"take_{k}": str(v) for k, v in ctx.body["take"].items()})
    try:
        report = reviewing.decide_row(
            ctx.state.loaded, int(ctx.param("run_id")), ctx.param("review_id"), form, ctx.user
        )
    except LookupError as exc:
        return api_error(404, "not_found", str(exc))
    except ValueError as exc:
        return api_error(400, "invalid", str(exc))
    except CliError as busy:
        return api_error(409, "busy", str(busy))
    if report["already_applied"]:
        return api_error(409, "stale", "this row was already decided", report=report)
    if report["failed"]:
        return api_error(409, "refused", "; ".join(report["failures"]), report=report)
    return ok({"report": report})


def assign_review(ctx: Ctx) -> Response:
    """
    summary: Assign a review row to a user (steward); null gives it back to the owner of the export.
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {user: {type: string, nullable: true}}}
    parameters:
      - {name: run_id, in: path, required: true, schema: {type: integer}}
      - {name: review_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "assigned"}
      404: {description: "no such row or user"}
    """
    from einklang.web.accounts import find_user

    user = ctx.form.get("user") or None
    with ctx.state.store.transaction() as conn:
        if user is not None and find_user(conn, user) is None:
            return api_error(404, "not_found", f"no user {user!r}")
        if not reviewing.assign(conn, int(ctx.param("run_id")), ctx.param("review_id"), user):
            return api_error(404, "not_found", "no such review row")
    return ok({"assigned_to": user})


def search_records(ctx: Ctx) -> Response:
    """
    summary: Golden records by id in any system, name, number or e-mail.
    parameters:
      - {name: q, in: query, required: true, schema: {type: string}}
    responses:
      200: {description: "records"}
    """
    with ctx.state.store.read() as conn:
        found = records.search_records(conn, ctx.state.loaded, ctx.query.get("q", ""))
    return ok({"records": found})


def record(ctx: Ctx) -> Response:
    """
    summary: One golden record with each system's values, links, held conflicts, history, isolated writes.
    parameters:
      - {name: golden_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "the record"}
      404: {description: "no such record"}
    """
    with ctx.state.store.read() as conn:
        data = records.record_detail(conn, ctx.state.loaded, ctx.param("golden_id"))
    if data is None:
        return api_error(404, "not_found", "no such record")
    return ok({"record": data})


def isolated(ctx: Ctx) -> Response:
    """
    summary: Writes that failed for good (isolated records), newest first.
    responses:
      200: {description: "writes"}
    """
    with ctx.state.store.read() as conn:
        return ok({"writes": records.isolated_writes(conn, ctx.state.loaded)})


def retry(ctx: Ctx) -> Response:
    """
    summary: Queue an isolated write again (steward); the next sync cycle sends it.
    parameters:
      - {name: outbox_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "queued"}
      404: {description: "no such failed write"}
    """
    with ctx.state.store.transaction() as conn:
        if not records.retry_isolated(conn, int(ctx.param("outbox_id")), ctx.user):
            return api_error(404, "not_found", "no failed write with this id")
    return ok({"queued": int(ctx.param("outbox_id"))})


def runs(ctx: Ctx) -> Response:
    """
    summary: The newest runs (imports, review runs, undos, cycles, loads) with their numbers.
    responses:
      200: {description: "runs"}
    """
    with ctx.state.store.read() as conn:
        return ok({"runs": queries.list_runs(conn)})


def undo_plan(ctx: Ctx) -> Response:
    """
    summary: What undoing an import or review run would revert (nothing is changed).
    parameters:
      - {name: run_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "the plan"}
      400: {description: "the run cannot be undone"}
    """
    from einklang.importer.undo import UndoError
    from einklang.web.undoing import undo_plan as plan_of

    try:
        return ok({"plan": plan_of(ctx.state.loaded, ctx.state.store, int(ctx.param("run_id")))})
    except UndoError as exc:
        return api_error(400, "invalid", str(exc))


def undo(ctx: Ctx) -> Response:
    """
    summary: Undo an import or review run (admin), as `einklang undo RUN_ID` does.
    parameters:
      - {name: run_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: "the undo's report"}
      400: {description: "the run cannot be undone"}
      409: {description: "another einklang process is writing"}
    """
    from einklang.cli._common import CliError
    from einklang.importer.undo import UndoError
    from einklang.web.undoing import undo as undo_now

    try:
        report = undo_now(ctx.state.loaded, int(ctx.param("run_id")), ctx.user)
    except UndoError as exc:
        return api_error(400, "invalid", str(exc))
    except CliError as busy:
        return api_error(409, "busy", str(busy))
    return ok({"report": report}, 200 if not report["failed"] else 409)


def trigger_cycle(ctx: Ctx) -> Response:
    """
    summary: Ask for a sync cycle now (admin).
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {entity: {type: string}}}
    responses:
      202: {description: "started"}
      409: {description: "a cycle is running already"}
    """
    if ctx.state.runtime.trigger(ctx.form.get("entity") or None):
        return ok({"started": True}, 202)
    return api_error(409, "busy", "a sync cycle is running already")

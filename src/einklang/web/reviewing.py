"""Duplicate review in the browser: the rows an import stored, decided one at a time.

The decisions are those of the review file (merge / create / skip / not-duplicate, the candidate
to merge into, per field which value survives) and they are applied by the same code
(:func:`einklang.importer.apply.apply_review_rows`): the row is checked against what its import
stored, a merge is conditional on the candidate's version the import saw (a candidate changed
since is refused, not overwritten), and every write is audited under a review run with the
person's name, so ``einklang undo`` reverts it.

Who decides a row: the user it is assigned to; an unassigned row belongs to the person whose
export it came from, which is recognised by the user name appearing in a source file's name
(``exports/mueller.csv`` for user ``mueller``). Stewards and admins see every row on request.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.config import LoadedConfig
from einklang.importer.review import DECISIONS, TAKE_CHOICES
from einklang.store import schema as t
from einklang.store.reviews import StoredReviewRow

_OPEN_LIMIT = 5000


def _open_rows_query() -> Any:
    return (
        sa.select(t.review_rows)
        .join(t.runs, t.runs.c.id == t.review_rows.c.run_id)
        .where(t.review_rows.c.applied_at.is_(None), t.runs.c.status != "undone", t.runs.c.kind == "import")
        .order_by(t.review_rows.c.run_id, t.review_rows.c.created_at)
    )


def source_owner_matches(row: StoredReviewRow, user_name: str) -> bool:
    """The row came from the user's own export: their name is part of a source file's name."""
    wanted = user_name.lower()
    for source in (row.details or {}).get("sources", []):
        file_part = str(source).rsplit(":", 1)[0]
        if wanted and wanted in PurePath(file_part).stem.lower():
            return True
    return False


def visible_to(row: StoredReviewRow, user_name: str) -> bool:
    if row.assigned_to:
        return row.assigned_to == user_name
    return source_owner_matches(row, user_name)


def open_rows(conn: Connection, user_name: str | None = None, run_id: int | None = None) -> list[StoredReviewRow]:
    """Rows waiting for a decision, oldest import first; ``user_name``: only that person's rows."""
    query = _open_rows_query().limit(_OPEN_LIMIT)
    if run_id is not None:
        query = query.where(t.review_rows.c.run_id == run_id)
    rows = [StoredReviewRow.from_row(row) for row in conn.execute(query)]
    rows.sort(key=lambda r: (r.run_id, _number(r.review_id)))
    if user_name is None:
        return rows
    return [row for row in rows if visible_to(row, user_name)]


def _number(review_id: str) -> int:
    digits = "".join(c for c in review_id if c.isdigit())
    return int(digits) if digits else 0


def get_row(conn: Connection, run_id: int, review_id: str) -> StoredReviewRow | None:
    found = conn.execute(
        sa.select(t.review_rows).where(t.review_rows.c.run_id == run_id, t.review_rows.c.review_id == review_id)
    ).first()
    return StoredReviewRow.from_row(found) if found is not None else None


def assign(conn: Connection, run_id: int, review_id: str, user_name: str | None) -> bool:
    result = conn.execute(
        t.review_rows.update()
        .where(t.review_rows.c.run_id == run_id, t.review_rows.c.review_id == review_id)
        .values(assigned_to=user_name or None)
    )
    return result.rowcount == 1


def row_summary(row: StoredReviewRow) -> dict[str, Any]:
    details = row.details or {}
    return {
        "run_id": row.run_id,
        "review_id": row.review_id,
        "kind": row.kind,
        "system": row.system,
        "entity": row.entity,
        "verdict": details.get("verdict"),
        "score": details.get("score"),
        "reasons": details.get("reasons", []),
        "sources": [_source_name(str(source)) for source in details.get("sources", [])],
        "incoming": dict(row.incoming),
        "assigned_to": row.assigned_to,
        "decision": row.decision,
        "applied": row.applied,
    }


def _source_name(source: str) -> str:
    """``/path/to/anna_outlook.csv:4`` as people read it: ``anna_outlook.csv:4``."""
    path, _, line = source.rpartition(":")
    if not path or not line.isdigit():
        return PurePath(source).name
    return f"{PurePath(path).name}:{line}"


def live_candidates(loaded: LoadedConfig, row: StoredReviewRow) -> tuple[list[dict[str, Any]], str | None]:
    """Each candidate's current values in its system (what a merge would change), or, when the
    system cannot be read now, the values the import saw and the reason."""
    from einklang.connectors.base import ConnectorError
    from einklang.importer.company_link import COMPANY_ENTITY
    from einklang.importer.writes import TargetEntity, shown
    from einklang.systems import open_connector

    stored = {str(c.get("native_id")): c for c in (row.details or {}).get("candidates", []) if isinstance(c, dict)}
    fallback = [
        {
            "native_id": c.native_id,
            "score": stored.get(c.native_id, {}).get("score"),
            "values": dict(stored.get(c.native_id, {}).get("values") or {}),
            "exists": True,
        }
        for c in row.candidates
    ]
    entity = COMPANY_ENTITY if row.kind == "account" else row.entity
    try:
        with open_connector(loaded, row.system) as connector:
            target = TargetEntity(loaded, connector, entity)
            natives = connector.get(entity, [c.native_id for c in row.candidates])
            return [
                {
                    **item,
                    "values": shown(target.canonical(natives[item["native_id"]]))
                    if item["native_id"] in natives
                    else {},
                    "exists": item["native_id"] in natives,
                }
                for item in fallback
            ], None
    except (ConnectorError, OSError, KeyError) as exc:
        return fallback, str(exc)


def merge_preview(
    incoming: Mapping[str, str], candidate: Mapping[str, str], take: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """field -> the value that survives a merge and where it comes from, as ``review apply``
    decides: ``incoming`` overwrites, ``existing`` keeps, no choice fills only an empty field."""
    preview: dict[str, dict[str, str]] = {}
    for name in dict.fromkeys([*candidate, *incoming]):
        new = incoming.get(name) or ""
        old = candidate.get(name) or ""
        choice = take.get(name)
        if new and (choice == "incoming" or (choice is None and not old)):
            preview[name] = {"value": new, "from": "incoming"}
        else:
            preview[name] = {"value": old, "from": "existing" if old else ""}
    return preview


def parse_decision(form: Mapping[str, str], row: StoredReviewRow) -> tuple[str, int, dict[str, str]]:
    """(decision, candidate number, per-field choices) from a form or JSON body; ValueError if wrong."""
    decision = (form.get("decision") or "").strip()
    if decision not in DECISIONS:
        raise ValueError(f"decision {decision!r}: use one of {', '.join(DECISIONS)}")
    raw_number = str(form.get("merge_into") or "1").strip()
    if not raw_number.isdigit() or not 1 <= int(raw_number) <= max(1, len(row.candidates)):
        raise ValueError(f"merge into candidate {raw_number!r}: there are {len(row.candidates)} candidate(s)")
    take: dict[str, str] = {}
    for name in row.incoming:
        choice = (form.get(f"take_{name}") or "").strip()
        if choice and choice not in TAKE_CHOICES:
            raise ValueError(f"take_{name} {choice!r}: use one of {', '.join(TAKE_CHOICES)} or leave it empty")
        if choice:
            take[name] = choice
    return decision, int(raw_number), take


def decide_row(loaded: LoadedConfig, run_id: int, review_id: str, form: Mapping[str, str], by: str) -> dict[str, Any]:
    """Apply one decision with the writer lock held; the apply report as a dictionary. Raises
    LookupError (no such row), ValueError (a decision that does not fit the row)."""
    from einklang.cli._common import writing
    from einklang.importer.apply import apply_review_rows
    from einklang.importer.review_store import row_from_stored

    with writing(loaded, "review (web app)", wait=30.0) as store:
        try:
            with store.read() as conn:
                stored = get_row(conn, run_id, review_id)
            if stored is None:
                raise LookupError(f"import run {run_id} has no review row {review_id}")
            decision, merge_into, take = parse_decision(form, stored)
            row = row_from_stored(stored, decision, merge_into, take)
            report = apply_review_rows(loaded, store, [row], decided_by=by)
        finally:
            store.close()
    return report.as_dict()


def next_row(rows: list[StoredReviewRow], after: tuple[int, str]) -> StoredReviewRow | None:
    """The row after ``after`` in ``rows`` (wrapping to the first), for "decide and next"."""
    others = [row for row in rows if (row.run_id, row.review_id) != after]
    later = [row for row in others if (row.run_id, _number(row.review_id)) > (after[0], _number(after[1]))]
    candidates = later or others
    return candidates[0] if candidates else None

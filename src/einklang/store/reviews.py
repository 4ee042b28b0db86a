"""The rows of the review files an import wrote, as the import wrote them.

``review apply`` trusts these, not the file: the file only says what a person decided. A row
is applied at most once: :func:`mark_applied` runs in the transaction of the row's writes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.store import schema as t
from einklang.store.state import chunks, utcnow


@dataclass(frozen=True)
class StoredCandidate:
    native_id: str
    version: str | None


@dataclass(frozen=True)
class StoredReviewRow:
    """One row of a review file as its import wrote it."""

    run_id: int
    review_id: str
    kind: str  # contact, account
    system: str
    entity: str
    golden_id: str | None
    fingerprints: tuple[str, ...]
    candidates: tuple[StoredCandidate, ...]
    incoming: Mapping[str, str]
    applied_at: dt.datetime | None = None
    applied_run_id: int | None = None
    decision: str | None = None
    details: Mapping[str, Any] | None = None
    """What the review file showed beside the technical columns: verdict, score, reasons, sources,
    status, and each candidate's score and values (the web app shows them)."""
    assigned_to: str | None = None
    """The user who is to decide the row (None: whoever's export it came from, see the web app)."""

    @property
    def applied(self) -> bool:
        return self.applied_at is not None

    @classmethod
    def from_row(cls, row: Any) -> StoredReviewRow:
        return cls(
            row.run_id,
            row.review_id,
            row.kind,
            row.system,
            row.entity,
            row.golden_id,
            tuple(json.loads(row.fingerprints)),
            tuple(StoredCandidate(c["native_id"], c.get("version")) for c in json.loads(row.candidates)),
            json.loads(row.incoming),
            row.applied_at,
            row.applied_run_id,
            row.decision,
            json.loads(row.details) if row.details else None,
            row.assigned_to,
        )


def save_review_rows(conn: Connection, rows: Sequence[StoredReviewRow]) -> None:
    """Store the rows of a review file (an import run writes each of its rows once)."""
    if not rows:
        return
    now = utcnow()
    conn.execute(
        t.review_rows.insert(),
        [
            {
                "run_id": r.run_id,
                "review_id": r.review_id,
                "kind": r.kind,
                "system": r.system,
                "entity": r.entity,
                "golden_id": r.golden_id,
                "fingerprints": json.dumps(list(r.fingerprints)),
                "candidates": json.dumps([{"native_id": c.native_id, "version": c.version} for c in r.candidates]),
                "incoming": json.dumps(dict(r.incoming), ensure_ascii=False),
                "details": json.dumps(dict(r.details), ensure_ascii=False) if r.details is not None else None,
                "assigned_to": r.assigned_to,
                "created_at": now,
            }
            for r in rows
        ],
    )


def import_runs(conn: Connection, run_ids: Sequence[int]) -> set[int]:
    """Those of ``run_ids`` that are import runs holding review rows (and not undone)."""
    found: set[int] = set()
    for chunk in chunks(sorted(set(run_ids))):
        found.update(
            int(row[0])
            for row in conn.execute(
                sa.select(t.review_rows.c.run_id)
                .distinct()
                .join(t.runs, t.runs.c.id == t.review_rows.c.run_id)
                .where(t.review_rows.c.run_id.in_(chunk), t.runs.c.kind == "import", t.runs.c.status != "undone")
            )
        )
    return found


def review_rows(conn: Connection, run_id: int, review_ids: Sequence[str] | None = None) -> dict[str, StoredReviewRow]:
    """review id -> stored row of one import run (all of them, or those of ``review_ids``)."""
    query = sa.select(t.review_rows).where(t.review_rows.c.run_id == run_id)
    if review_ids is None:
        return {row.review_id: StoredReviewRow.from_row(row) for row in conn.execute(query)}
    found: dict[str, StoredReviewRow] = {}
    for chunk in chunks(sorted(set(review_ids))):
        found.update(
            {
                row.review_id: StoredReviewRow.from_row(row)
                for row in conn.execute(query.where(t.review_rows.c.review_id.in_(chunk)))
            }
        )
    return found


def mark_applied(conn: Connection, run_id: int, review_id: str, applied_run_id: int | None, decision: str) -> bool:
    """The row is applied (call it in the transaction of its writes); False if it already was."""
    result = conn.execute(
        t.review_rows.update()
        .where(
            t.review_rows.c.run_id == run_id,
            t.review_rows.c.review_id == review_id,
            t.review_rows.c.applied_at.is_(None),
        )
        .values(applied_at=utcnow(), applied_run_id=applied_run_id, decision=decision)
    )
    return result.rowcount == 1


def forget_applied(conn: Connection, applied_run_id: int) -> int:
    """The rows a review run applied are open again (its undo); how many."""
    result = conn.execute(
        t.review_rows.update()
        .where(t.review_rows.c.applied_run_id == applied_run_id)
        .values(applied_at=None, applied_run_id=None, decision=None)
    )
    return int(result.rowcount)

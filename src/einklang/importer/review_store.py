"""Review rows between the review file and the state store.

An import stores each review row (:mod:`einklang.store.reviews`) with the technical columns
``review apply`` trusts and, in ``details``, what the file shows a person (verdict, score,
reasons, sources, the candidates' scores and values). The web app decides rows from the store
alone: :func:`row_from_stored` gives the :class:`~einklang.importer.review.ReviewRow` that
:func:`~einklang.importer.apply.apply_review_rows` applies exactly as it applies a file's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from einklang.importer.review import ReviewCandidate, ReviewRow
from einklang.store.reviews import StoredReviewRow


def review_details(row: ReviewRow) -> dict[str, Any]:
    """The columns of a review row meant for people, as stored beside the technical ones."""
    return {
        "verdict": row.verdict,
        "score": row.score,
        "reasons": list(row.reasons),
        "sources": list(row.sources),
        "status": row.status,
        "candidates": [{"native_id": c.native_id, "score": c.score, "values": dict(c.values)} for c in row.candidates],
    }


def row_from_stored(
    stored: StoredReviewRow,
    decision: str,
    merge_into: int = 1,
    take: Mapping[str, str] | None = None,
) -> ReviewRow:
    """The row as its import wrote it, with a person's decision (the choices a file row carries)."""
    details = dict(stored.details or {})
    shown = {str(c.get("native_id")): c for c in details.get("candidates", []) if isinstance(c, dict)}
    candidates = [
        ReviewCandidate(
            c.native_id,
            c.version,
            shown.get(c.native_id, {}).get("score"),
            dict(shown.get(c.native_id, {}).get("values") or {}),
        )
        for c in stored.candidates
    ]
    return ReviewRow(
        review_id=stored.review_id,
        kind=stored.kind,
        verdict=str(details.get("verdict", "")),
        score=float(details.get("score") or 0.0),
        reasons=[str(r) for r in details.get("reasons", [])],
        sources=[str(s) for s in details.get("sources", [])],
        status=str(details.get("status", "")),
        incoming=dict(stored.incoming),
        candidates=candidates,
        fingerprints=list(stored.fingerprints),
        system=stored.system,
        entity=stored.entity,
        run_id=stored.run_id,
        golden_id=stored.golden_id,
        decision=decision,
        merge_into=merge_into,
        take=dict(take or {}),
    )

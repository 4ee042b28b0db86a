"""What an import tells the user about each person it does not simply create: review rows and plan items.

A sure duplicate of an existing record is linked to it (and listed, so that a merge can fill its
gaps later); a possible duplicate, a person without a real name, a new record held back because
another input record is possibly the same person, and a new contact whose company was unclear
each become a row of the review file. In a dry run the same decisions become plan items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from einklang.connectors.base import NativeRecord
from einklang.importer.company_link import AccountDecision
from einklang.importer.held_back import HeldBack
from einklang.importer.merge import MergedContact
from einklang.importer.plan_log import PlanLog
from einklang.importer.review import MAX_CANDIDATES, ReviewCandidate, ReviewRow
from einklang.importer.review_log import ReviewLog
from einklang.importer.run_report import ImportReport
from einklang.importer.writes import TargetEntity, link_existing, shown
from einklang.match import CandidatePair
from einklang.model import CanonicalRecord
from einklang.store.state import StateStore

Existing = dict[str, tuple[NativeRecord, CanonicalRecord]]
"""The target's records by native id."""


@dataclass
class NewContact:
    """A person to create: the merged input, its record for the target, and what became of it."""

    merged: MergedContact
    record: CanonicalRecord
    account: AccountDecision | None = None
    golden_id: str | None = None
    native: NativeRecord | None = None


class Outcomes:
    """The review rows of one import run, in the order they are decided."""

    def __init__(
        self,
        store: StateStore,
        target: TargetEntity,
        report: ImportReport,
        review_fields: tuple[str, ...],
        *,
        lang: str,
        dry_run: bool,
    ) -> None:
        self.store = store
        self.target = target
        self.report = report
        self.review_fields = review_fields
        self.lang = lang
        self.dry_run = dry_run
        self.rows = ReviewLog()
        self._accounts_later = ReviewLog()
        """The review rows, on disk (a dry run keeps none: it writes no review file, it only counts them)."""
        self.counted: dict[str, int] = {}
        """Review rows by kind (contact, account)."""
        # merged contact key -> the existing record it is a sure duplicate of, and its sources
        self.linked: dict[str, tuple[NativeRecord, CanonicalRecord, list[str]]] = {}

    @property
    def plan(self) -> PlanLog:
        return self.report.plan

    def candidates(self, pairs: list[CandidatePair], existing: Existing) -> list[ReviewCandidate]:
        result = []
        for pair in pairs[:MAX_CANDIDATES]:
            native, record = existing[str(pair.b_id)]
            result.append(ReviewCandidate(native.native_id, native.version, pair.score, shown(record)))
        return result

    def review_row(
        self,
        contact: MergedContact,
        pair: CandidatePair,
        candidates: list[ReviewCandidate],
        status: str,
        golden_id: str | None = None,
        kind: str = "contact",
    ) -> ReviewRow:
        return ReviewRow(
            review_id=f"R{sum(self.counted.values()) + 1}",
            kind=kind,
            verdict=pair.verdict,
            score=pair.score,
            reasons=list(pair.reasons),
            sources=contact.sources,
            status=status,
            incoming={name: value for name, value in contact.values.items() if name in self.review_fields},
            candidates=candidates,
            fingerprints=list(contact.fingerprints),
            system=self.target.system,
            entity=self.target.entity,
            run_id=self.report.run_id,
            golden_id=golden_id,
        )

    def add(self, row: ReviewRow) -> None:
        self.counted[row.kind] = self.counted.get(row.kind, 0) + 1
        if not self.dry_run:
            self.rows.append(row)

    def waiting(self) -> str:
        return "not imported: waiting for your decision" if self.lang == "en" else "nicht importiert: bitte entscheiden"

    # ------------------------------------------------------------------ duplicates of existing records
    def sure_duplicate(self, contact: MergedContact, pairs: list[CandidatePair], existing: Existing) -> None:
        best = pairs[0]
        native, record = existing[str(best.b_id)]
        self.linked[contact.key] = (native, record, contact.sources)
        self.report.linked += 1
        if self.dry_run:
            self.plan.append(
                {
                    "action": "link",
                    "sources": contact.sources,
                    "name": contact.display_name(),
                    "target_id": native.native_id,
                    "score": round(best.score, 4),
                }
            )
            self.add(self.review_row(contact, best, self.candidates(pairs, existing), ""))
            return
        golden_id = link_existing(
            self.store,
            self.target,
            self.report.run_id,
            native,
            contact.fingerprints,
            f"import: sure duplicate of {self.target.system} record {native.native_id} ({'; '.join(contact.sources)})",
        )
        status = (
            "linked to candidate 1, nothing changed: choose merge to fill its fields"
            if self.lang == "en"
            else "mit Kandidat 1 verknüpft, nichts geändert: zusammenführen ergänzt seine Felder"
        )
        self.add(self.review_row(contact, best, self.candidates(pairs, existing), status, golden_id))

    def possible_duplicate(self, contact: MergedContact, pairs: list[CandidatePair], existing: Existing) -> None:
        self.report.waiting += 1
        if self.dry_run:
            self.plan.append(
                {
                    "action": "review",
                    "sources": contact.sources,
                    "name": contact.display_name(),
                    "candidates": [str(p.b_id) for p in pairs[:MAX_CANDIDATES]],
                    "score": round(pairs[0].score, 4),
                }
            )
            self.add(self.review_row(contact, pairs[0], self.candidates(pairs, existing), ""))
            return
        self.add(self.review_row(contact, pairs[0], self.candidates(pairs, existing), self.waiting()))

    def without_name(self, contact: MergedContact) -> None:
        reason = "no name in the file; the name shown was derived from the e-mail address"
        self.report.waiting += 1
        pair = CandidatePair(contact.key, "", 0.0, "possible", (reason,))
        self.add(self.review_row(contact, pair, [], "" if self.dry_run else self.waiting()))
        if self.dry_run:
            self.plan.append(
                {"action": "review", "sources": contact.sources, "name": contact.display_name(), "candidates": []}
            )

    # ------------------------------------------------------------------ after the creates
    def held_back(self, held: HeldBack, persons: Callable[[Sequence[int]], dict[int, MergedContact]]) -> None:
        """Review rows of the new records held back, in the order they were (``persons``: the
        persons with the given numbers, read back from the import's rows)."""
        for numbers in held.chunks():
            contacts = persons(numbers)
            pairs = held.pairs.get(held.pair[number] for number in numbers)
            kept = held.kept(held.keeper[number] for number in numbers)
            for number in numbers:
                contact, pair, keeper = contacts[number], pairs[held.pair[number]], held.keeper[number]
                self.report.waiting += 1
                if f"M{keeper}" in self.linked:
                    native, record, sources = self.linked[f"M{keeper}"]
                    candidate = ReviewCandidate(native.native_id, native.version, pair.score, shown(record))
                    note = f"candidate 1 is the existing record that {'; '.join(sources)} was linked to"
                else:
                    item = kept[keeper]
                    candidate = ReviewCandidate(item.native_id or "(new)", item.version, pair.score, item.values)
                    note = f"candidate 1 was created by this import from {'; '.join(item.sources)}"
                row = self.review_row(contact, pair, [candidate], self.waiting())
                row.reasons = [*pair.reasons, note]
                self.add(row)
                if self.dry_run:
                    self.plan.append(
                        {
                            "action": "review",
                            "sources": contact.sources,
                            "name": contact.display_name(),
                            "candidates": [candidate.native_id],
                            "score": round(pair.score, 4),
                        },
                        "held",
                    )

    def accounts_to_choose(self, items: list[NewContact]) -> None:
        """Review rows of new contacts created without a company because it was unclear which.

        A dry run lists them now; a real import keeps them aside (on disk) until the rows of the
        persons held back are written (:meth:`add_accounts_to_choose`), the order of the file."""
        for item in items:
            decision = item.account
            if decision is None or decision.action != "review" or (item.native is None and not self.dry_run):
                continue
            candidates = [
                ReviewCandidate(c.native.native_id, c.native.version, None, c.values_as_contact())
                for c in decision.candidates[:MAX_CANDIDATES]
            ]
            status = (
                f"contact created without company: {decision.reason}"
                if self.lang == "en"
                else f"Kontakt ohne Firma angelegt: {decision.reason}"
            )
            pair = CandidatePair(item.merged.key, "", 0.0, "possible", (decision.reason,))
            row = self.review_row(item.merged, pair, candidates, status, item.golden_id, kind="account")
            if not self.dry_run:
                self._accounts_later.append(row)
                continue
            self.add(row)
            self.plan.append(
                {
                    "action": "review-account",
                    "sources": item.merged.sources,
                    "name": item.merged.display_name(),
                    "reason": decision.reason,
                },
                "account-reviews",
            )

    def add_accounts_to_choose(self) -> None:
        """The rows :meth:`accounts_to_choose` kept aside, numbered after the rows before them."""
        for row in self._accounts_later:
            row.review_id = f"R{sum(self.counted.values()) + 1}"
            self.add(row)
        self._accounts_later.close()

    def close(self) -> None:
        self.rows.close()
        self._accounts_later.close()

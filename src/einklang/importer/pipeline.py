"""An import run: contact files into one system, without doubling anyone.

1. Read and validate every file (problems are reported by file:line:field; a row without any
   name is left out).
2. Leave out rows an earlier run already imported or skipped (by row fingerprint).
3. Merge the same person found in several rows into one record (sure duplicates only).
4. Match the merged records against the target's existing records (pairs a person declared
   "not a duplicate" are never proposed again).
5. Sure duplicate: link to the existing record without changing it, and list it in the review
   file (a merge can fill its gaps later). Possible duplicate: only list it. No candidate: new.
   Of two new records that are possibly the same person, the more complete one is created and
   the other goes to the review file with it as the candidate.
6. Attach new contacts to their company where the target keeps companies apart
   (:mod:`einklang.importer.company_link`), then create them through the outbox.
7. Write the review file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector, NativeRecord, chunked
from einklang.importer.company_link import (
    ACCOUNT_REFERENCE_FIELD,
    COMPANY_ENTITY,
    AccountDecision,
    CompanyLinker,
    applies,
)
from einklang.importer.incoming import IncomingRow, Progress, read_files
from einklang.importer.matching import match_record, spec_for_entity, to_entity_record
from einklang.importer.merge import MergedContact, merge_rows
from einklang.importer.review import (
    MAX_CANDIDATES,
    ReviewCandidate,
    ReviewRow,
    write_review,
)
from einklang.importer.review_store import review_details
from einklang.importer.run_report import ImportReport, check_review_path
from einklang.importer.writes import (
    PlannedCreate,
    TargetEntity,
    create_records,
    finish_interrupted_creates,
    link_existing,
    shown,
)
from einklang.match import CandidatePair, find_duplicates
from einklang.model import CanonicalRecord
from einklang.store import imports, links, reviews
from einklang.store.state import StateStore

RUN_KIND = "import"


@dataclass
class _NewContact:
    merged: MergedContact
    record: CanonicalRecord
    account: AccountDecision | None = None
    golden_id: str | None = None
    native: NativeRecord | None = None


class ImportRun:
    def __init__(
        self,
        config: LoadedConfig,
        store: StateStore,
        connector: Connector,
        paths: Sequence[Path],
        *,
        entity: str = "contact",
        review_path: Path | None = None,
        lang: str = "en",
        dry_run: bool = False,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        self.overwrite = overwrite
        self.store = store
        self.paths = list(paths)
        self.target = TargetEntity(config, connector, entity)
        self.entity_spec = config.entity_spec(entity)
        self.match_spec = spec_for_entity(entity, self.target.fields)
        self.region = config.model.default_region
        self.review_path = review_path
        self.lang = lang
        self.dry_run = dry_run
        self.report = ImportReport(entity, connector.system, dry_run)
        self.review_rows: list[ReviewRow] = []
        self.review_fields = tuple(name for name in self.target.fields if name != ACCOUNT_REFERENCE_FIELD)
        self.linker: CompanyLinker | None = None
        # merged contact key -> the existing record it is a sure duplicate of, and its sources
        self._linked: dict[str, tuple[NativeRecord, CanonicalRecord, list[str]]] = {}
        if applies(self.target):
            self.linker = CompanyLinker(TargetEntity(config, connector, COMPANY_ENTITY), self.region)

    @property
    def run_id(self) -> int | None:
        return self.report.run_id

    def run(self) -> ImportReport:
        report = self.report
        if not self.dry_run:
            check_review_path(self.review_path, overwrite=self.overwrite)
            report.run_id = self.store.start_run(
                RUN_KIND,
                self.target.entity,
                {
                    "files": [str(p) for p in self.paths],
                    "system": self.target.system,
                    "review": str(self.review_path) if self.review_path else None,
                },
            )
        status = "failed"
        try:
            self._run()
            status = "ok"
        finally:
            if report.run_id is not None:
                self.store.finish_run(report.run_id, status, report.summary())
        return report

    # ------------------------------------------------------------------ steps
    def _run(self) -> None:
        report = self.report
        if not self.dry_run:
            if self.linker is not None:
                report.recovered += finish_interrupted_creates(self.store, self.linker.accounts, self.run_id)
            report.recovered += finish_interrupted_creates(self.store, self.target, self.run_id)
        files, rows = read_files(self.paths, self.region, self.progress)
        report.files = files
        report.rows_read = sum(f.rows_read for f in files)
        report.rows_usable = len(rows)
        known = self._known_fingerprints([r.fingerprint for r in rows])
        # Known rows take part in merging, so that a new row of an imported person is recognised
        # as that person even when the target record alone would not tell.
        merged, inner_pairs = self._merge(rows)
        existing = {native.native_id: (native, record) for native, record in self.target.read_records()}
        imported_natives = self._imported_natives(set(known.values()) - {imports.SKIPPED})
        fresh: list[MergedContact] = []
        # Every usable row is counted once: imported before, or one of a person's rows; every person
        # ends created, linked, waiting for a decision or failed.
        person_rows = 0
        for contact in merged:
            known_targets = [known[fp] for fp in contact.fingerprints if fp in known]
            if not known_targets:
                fresh.append(contact)
                continue
            native_id = next((imported_natives[g] for g in known_targets if g in imported_natives), None)
            found = existing.get(native_id) if native_id is not None else None
            if len(known_targets) == len(contact.fingerprints):
                report.already_imported += len(contact.rows)
                if found is not None:
                    self._linked[contact.key] = (found[0], found[1], contact.sources)
            elif found is not None:
                known_rows = sum(1 for row in contact.rows if row.fingerprint in known)
                report.already_imported += known_rows
                report.persons += 1
                person_rows += len(contact.rows) - known_rows
                pair = CandidatePair(
                    contact.key,
                    found[0].native_id,
                    1.0,
                    "duplicate",
                    ("same person as rows an earlier import brought in",),
                )
                self._sure_duplicate(contact, [pair], existing)
            else:
                fresh.append(contact)
        report.persons += len(fresh)
        person_rows += sum(len(contact.rows) for contact in fresh)
        report.merged_rows = person_rows - report.persons
        pairs_by_contact = self._match_existing(fresh, existing)
        new: list[_NewContact] = []
        for contact in fresh:
            pairs = pairs_by_contact.get(contact.key, [])
            if any(pair.verdict == "duplicate" for pair in pairs):
                self._sure_duplicate(contact, pairs, existing)
            elif pairs:
                self._possible_duplicate(contact, pairs, existing)
            elif self._needs_a_real_name(contact):
                self._review_without_name(contact)
            else:
                record = to_entity_record(
                    contact.values, self.entity_spec, self.target.fields, self.config.normalize_context
                )
                new.append(_NewContact(contact, record))
        held_back = self._hold_back_possible_pairs(new, inner_pairs)
        to_create = [item for item in new if item.merged.key not in held_back]
        self._attach_accounts(to_create)
        self._create(to_create)
        self._review_held_back(new, held_back)
        self._account_review_rows(to_create)
        report.to_review = sum(1 for row in self.review_rows if row.kind != "account")
        report.accounts_to_review = sum(1 for row in self.review_rows if row.kind == "account")
        if self.review_rows and not self.dry_run:
            path = self.review_path or Path(f"einklang-review-{self.run_id}.xlsx")
            self._store_review_rows()
            write_review(path, self.review_rows, self.review_fields, self.lang)
            report.review_file = str(path)

    def _store_review_rows(self) -> None:
        """What ``review apply`` trusts instead of the file (which only brings the decisions back)."""
        assert self.run_id is not None
        stored = [
            reviews.StoredReviewRow(
                self.run_id,
                row.review_id,
                row.kind,
                row.system,
                row.entity,
                row.golden_id,
                tuple(row.fingerprints),
                tuple(reviews.StoredCandidate(c.native_id, c.version) for c in row.candidates[:MAX_CANDIDATES]),
                dict(row.incoming),
                details=review_details(row),
            )
            for row in self.review_rows
        ]
        with self.store.transaction() as conn:
            reviews.save_review_rows(conn, stored)

    def _imported_natives(self, golden_ids: set[str]) -> dict[str, str]:
        with self.store.read() as conn:
            linked = links.links_of_goldens(conn, sorted(golden_ids))
        return {
            golden_id: by_system[self.target.system].native_id
            for golden_id, by_system in linked.items()
            if self.target.system in by_system
        }

    def _known_fingerprints(self, fingerprints: list[str]) -> dict[str, str]:
        with self.store.read() as conn:
            return imports.known_fingerprints(conn, self.target.entity, fingerprints)

    def _excluded_pairs(self, keys: Iterable[str]) -> set[tuple[str, str]]:
        with self.store.read() as conn:
            return imports.excluded_pairs(conn, self.target.entity, keys)

    def _merge(self, rows: list[IncomingRow]) -> tuple[list[MergedContact], list[CandidatePair]]:
        # A generator: the matcher prepares records chunk by chunk, so no second copy of all rows.
        records = (match_record(str(index), row.values) for index, row in enumerate(rows))
        pairs = find_duplicates(records, spec=self.match_spec, default_region=self.region) if len(rows) > 1 else []
        merged = merge_rows(rows, pairs)
        row_owner = {id(row): contact.key for contact in merged for row in contact.rows}
        # possible pairs between different merged contacts, re-keyed to the merged contacts
        inner: list[CandidatePair] = []
        seen: set[frozenset[str]] = set()
        for pair in pairs:
            if pair.verdict != "possible":
                continue
            a = row_owner[id(rows[int(str(pair.a_id))])]
            b = row_owner[id(rows[int(str(pair.b_id))])]
            if a != b and frozenset((a, b)) not in seen:
                seen.add(frozenset((a, b)))
                inner.append(CandidatePair(a, b, pair.score, pair.verdict, pair.reasons, pair.match_weight))
        return merged, inner

    def _match_existing(
        self,
        merged: list[MergedContact],
        existing: dict[str, tuple[NativeRecord, CanonicalRecord]],
    ) -> dict[str, list[CandidatePair]]:
        if not merged or not existing:
            return {}
        system = self.target.system
        keys = {imports.incoming_key(fp): contact.key for contact in merged for fp in contact.fingerprints}
        exclude: list[tuple[str, str]] = []
        prefix = f"{system}:"
        for key_a, key_b in self._excluded_pairs(keys):
            if key_a in keys and key_b.startswith(prefix):
                exclude.append((keys[key_a], key_b.removeprefix(prefix)))
        pairs = find_duplicates(
            (match_record(contact.key, contact.values) for contact in merged),
            (match_record(native_id, record) for native_id, (_, record) in existing.items()),
            spec=self.match_spec,
            default_region=self.region,
            exclude=exclude,
        )
        grouped: dict[str, list[CandidatePair]] = {}
        for pair in pairs:
            grouped.setdefault(str(pair.a_id), []).append(pair)
        return grouped

    # ------------------------------------------------------------------ duplicates of existing records
    def _candidates(
        self, pairs: list[CandidatePair], existing: dict[str, tuple[NativeRecord, CanonicalRecord]]
    ) -> list[ReviewCandidate]:
        result = []
        for pair in pairs[:MAX_CANDIDATES]:
            native, record = existing[str(pair.b_id)]
            result.append(ReviewCandidate(native.native_id, native.version, pair.score, shown(record)))
        return result

    def _review_row(
        self,
        contact: MergedContact,
        pair: CandidatePair,
        candidates: list[ReviewCandidate],
        status: str,
        golden_id: str | None = None,
        kind: str = "contact",
    ) -> ReviewRow:
        return ReviewRow(
            review_id=f"R{len(self.review_rows) + 1}",
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
            run_id=self.run_id,
            golden_id=golden_id,
        )

    def _sure_duplicate(
        self,
        contact: MergedContact,
        pairs: list[CandidatePair],
        existing: dict[str, tuple[NativeRecord, CanonicalRecord]],
    ) -> None:
        best = pairs[0]
        native, record = existing[str(best.b_id)]
        self._linked[contact.key] = (native, record, contact.sources)
        self.report.linked += 1
        if self.dry_run:
            self.report.plan.append(
                {
                    "action": "link",
                    "sources": contact.sources,
                    "name": contact.display_name(),
                    "target_id": native.native_id,
                    "score": round(best.score, 4),
                }
            )
            self.review_rows.append(self._review_row(contact, best, self._candidates(pairs, existing), ""))
            return
        golden_id = link_existing(
            self.store,
            self.target,
            self.run_id,
            native,
            contact.fingerprints,
            f"import: sure duplicate of {self.target.system} record {native.native_id} ({'; '.join(contact.sources)})",
        )
        status = (
            "linked to candidate 1, nothing changed: choose merge to fill its fields"
            if self.lang == "en"
            else "mit Kandidat 1 verknüpft, nichts geändert: zusammenführen ergänzt seine Felder"
        )
        self.review_rows.append(self._review_row(contact, best, self._candidates(pairs, existing), status, golden_id))

    def _possible_duplicate(
        self,
        contact: MergedContact,
        pairs: list[CandidatePair],
        existing: dict[str, tuple[NativeRecord, CanonicalRecord]],
    ) -> None:
        self.report.waiting += 1
        if self.dry_run:
            self.report.plan.append(
                {
                    "action": "review",
                    "sources": contact.sources,
                    "name": contact.display_name(),
                    "candidates": [str(p.b_id) for p in pairs[:MAX_CANDIDATES]],
                    "score": round(pairs[0].score, 4),
                }
            )
            self.review_rows.append(self._review_row(contact, pairs[0], self._candidates(pairs, existing), ""))
            return
        self.review_rows.append(self._review_row(contact, pairs[0], self._candidates(pairs, existing), self._waiting()))

    def _needs_a_real_name(self, contact: MergedContact) -> bool:
        """The file gave no name (it was derived from the e-mail) and the target requires one."""
        if not all(row.name_derived for row in contact.rows):
            return False
        fields = self.target.mapping.entity.fields
        return any(fields[name].required for name in ("first_name", "last_name") if name in fields)

    def _review_without_name(self, contact: MergedContact) -> None:
        reason = "no name in the file; the name shown was derived from the e-mail address"
        self.report.waiting += 1
        pair = CandidatePair(contact.key, "", 0.0, "possible", (reason,))
        self.review_rows.append(self._review_row(contact, pair, [], "" if self.dry_run else self._waiting()))
        if self.dry_run:
            self.report.plan.append(
                {"action": "review", "sources": contact.sources, "name": contact.display_name(), "candidates": []}
            )

    def _waiting(self) -> str:
        return "not imported: waiting for your decision" if self.lang == "en" else "nicht importiert: bitte entscheiden"

    # ------------------------------------------------------------------ new records
    def _hold_back_possible_pairs(
        self,
        new: list[_NewContact],
        inner: list[CandidatePair],
    ) -> dict[str, tuple[str, CandidatePair]]:
        """New records that are possibly the same person as another input record stay out of the create.

        Against another new record, the more complete of the two is created and the other held
        back; against a record linked to an existing one, the new record is held back (with the
        existing record as its candidate, see ``_review_held_back``).
        """
        by_key = {item.merged.key: item for item in new}
        held: dict[str, tuple[str, CandidatePair]] = {}
        for pair in sorted(inner, key=lambda p: -p.score):
            a_key, b_key = str(pair.a_id), str(pair.b_id)
            a, b = by_key.get(a_key), by_key.get(b_key)
            if a_key in held or b_key in held:
                continue
            if a is not None and b is not None:
                keep, hold = (a, b) if a.merged.completeness() >= b.merged.completeness() else (b, a)
                held[hold.merged.key] = (keep.merged.key, pair)
            elif a is not None and b_key in self._linked:
                held[a_key] = (b_key, pair)
            elif b is not None and a_key in self._linked:
                held[b_key] = (a_key, pair)
        return held

    def _attach_accounts(self, items: list[_NewContact]) -> None:
        if self.linker is None:
            return
        planned_accounts: set[str] = set()
        for item in items:
            decision = self.linker.decide(item.record)
            item.account = decision
            if decision.action == "attach":
                item.record[ACCOUNT_REFERENCE_FIELD] = decision.account_id
                self.report.accounts_attached += 1
            elif decision.action == "create":
                if self.dry_run:
                    company = str(item.record.get("company"))
                    if company not in planned_accounts:
                        planned_accounts.add(company)
                        self.report.accounts_created += 1
                        self.report.plan.append({"action": "create-account", "name": company})
                    continue
                account_id = self.linker.create_account(
                    self.store,
                    self.run_id,
                    item.record,
                    f"import: account for {item.record.get('company')!r} named by {'; '.join(item.merged.sources)}",
                )
                if account_id is not None:
                    item.record[ACCOUNT_REFERENCE_FIELD] = account_id
                    self.report.accounts_created += 1

    def _create(self, items: list[_NewContact]) -> None:
        report = self.report
        if self.dry_run:
            for item in items:
                report.created += 1
                report.plan.append(
                    {
                        "action": "create",
                        "sources": item.merged.sources,
                        "name": item.merged.display_name(),
                        "values": shown(item.record),
                    }
                )
            return
        batch_size = max(1, self.target.connector.capabilities(self.target.entity).batch_size)
        for batch in chunked(items, batch_size):
            planned = [
                PlannedCreate(item.record, f"import from {'; '.join(item.merged.sources)}", item.merged.fingerprints)
                for item in batch
            ]
            for item, outcome in zip(batch, create_records(self.store, self.target, self.run_id, planned), strict=True):
                item.golden_id = outcome.golden_id
                item.native = outcome.native
                if outcome.native is None:
                    report.failed += 1
                    report.failures.append(f"{'; '.join(item.merged.sources)}: {outcome.error}")
                else:
                    report.created += 1

    def _review_held_back(self, new: list[_NewContact], held: dict[str, tuple[str, CandidatePair]]) -> None:
        by_key = {item.merged.key: item for item in new}
        for key, (kept_key, pair) in held.items():
            item = by_key[key]
            self.report.waiting += 1
            if kept_key in self._linked:
                native, record, sources = self._linked[kept_key]
                candidate = ReviewCandidate(native.native_id, native.version, pair.score, shown(record))
                note = f"candidate 1 is the existing record that {'; '.join(sources)} was linked to"
            else:
                kept = by_key[kept_key]
                candidate_id = kept.native.native_id if kept.native is not None else "(new)"
                candidate = ReviewCandidate(
                    candidate_id, kept.native.version if kept.native else None, pair.score, shown(kept.record)
                )
                note = f"candidate 1 was created by this import from {'; '.join(kept.merged.sources)}"
            reasons = [*pair.reasons, note]
            row = self._review_row(item.merged, pair, [candidate], self._waiting())
            row.reasons = reasons
            self.review_rows.append(row)
            if self.dry_run:
                self.report.plan.append(
                    {
                        "action": "review",
                        "sources": item.merged.sources,
                        "name": item.merged.display_name(),
                        "candidates": [candidate.native_id],
                        "score": round(pair.score, 4),
                    }
                )

    def _account_review_rows(self, items: list[_NewContact]) -> None:
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
            self.review_rows.append(
                ReviewRow(
                    review_id=f"R{len(self.review_rows) + 1}",
                    kind="account",
                    verdict="possible",
                    score=0.0,
                    reasons=[decision.reason],
                    sources=item.merged.sources,
                    status=status,
                    incoming={name: value for name, value in item.merged.values.items() if name in self.review_fields},
                    candidates=candidates,
                    fingerprints=list(item.merged.fingerprints),
                    system=self.target.system,
                    entity=self.target.entity,
                    run_id=self.run_id,
                    golden_id=item.golden_id,
                )
            )
            if self.dry_run:
                self.report.plan.append(
                    {
                        "action": "review-account",
                        "sources": item.merged.sources,
                        "name": item.merged.display_name(),
                        "reason": decision.reason,
                    }
                )


def run_import(
    config: LoadedConfig,
    store: StateStore,
    connector: Connector,
    paths: Sequence[Path],
    *,
    entity: str = "contact",
    review_path: Path | None = None,
    lang: str = "en",
    dry_run: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Raises ImportRefused, before anything is written, when the review file cannot be written
    or already holds decisions (without ``overwrite``). ``progress`` is told the rows read per file."""
    return ImportRun(
        config,
        store,
        connector,
        paths,
        entity=entity,
        review_path=review_path,
        lang=lang,
        dry_run=dry_run,
        overwrite=overwrite,
        progress=progress,
    ).run()

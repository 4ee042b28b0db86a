"""``review apply``: carry out the decisions a person wrote into a review file.

* **merge**: fill (or, where ``take_<field>`` says incoming, overwrite) the fields of candidate
  ``merge_into`` with the incoming values; an update through the connector, conditional on the
  version the review file saw. For ``kind`` account: attach the contact to that account.
* **create**: create the incoming record as new (for ``kind`` account: a new account).
* **skip**: leave the incoming record out; a rerun of the import does not propose it again.
* **not-duplicate**: remember that the incoming record is none of the candidates (the pair is
  never proposed again) and create it.

Every change is audited under the review run's id, so ``einklang undo RUN_ID`` reverts it.

The file is not trusted: each row must be a row its import run stored
(:mod:`einklang.store.reviews`); system, entity, kind, candidates (and the versions the review
saw), fingerprints and the incoming values are taken from the store, and a row whose hidden
columns disagree with it is refused. The file contributes the decision, the candidate to merge
into and the per-field choices. Every decided row is checked before the first write: one
refused row applies nothing (``partial=True``: the valid rows are applied). A row is marked
applied in the transaction of its writes, so it is applied at most once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector, ConnectorError, StaleVersion
from einklang.importer.company_link import ACCOUNT_REFERENCE_FIELD, COMPANY_ENTITY, CompanyLinker, applies
from einklang.importer.matching import to_entity_record
from einklang.importer.review import ReviewCandidate, ReviewRow, read_review
from einklang.importer.writes import (
    InTransaction,
    PlannedCreate,
    TargetEntity,
    create_records,
    link_existing,
    update_record,
)
from einklang.model import CanonicalRecord
from einklang.store import imports, journal, links, reviews
from einklang.store.state import StateStore
from einklang.systems import open_connector

RUN_KIND = "review"
ConnectorFactory = Callable[[LoadedConfig, str], Connector]


@dataclass
class ApplyReport:
    review_file: str
    dry_run: bool
    run_id: int | None = None
    merged: int = 0
    created: int = 0
    skipped: int = 0
    not_duplicate: int = 0
    attached: int = 0
    undecided: int = 0
    already_applied: int = 0
    refused: int = 0
    """Rows refused by the checks before any write (each is also counted in ``failed``)."""
    failed: int = 0
    applied: bool = True
    """False when refused rows stopped the whole file (all-or-nothing)."""
    failures: list[str] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "review_file": self.review_file,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "merged": self.merged,
            "created": self.created,
            "skipped": self.skipped,
            "not_duplicate": self.not_duplicate,
            "attached": self.attached,
            "undecided": self.undecided,
            "already_applied": self.already_applied,
            "refused": self.refused,
            "failed": self.failed,
            "applied": self.applied,
        }

    def as_dict(self) -> dict[str, Any]:
        data = self.summary()
        data["failures"] = self.failures
        data["plan"] = self.plan
        return data


class _Refused(Exception):
    pass


class ReviewApplier:
    def __init__(
        self,
        config: LoadedConfig,
        store: StateStore,
        path: Path | None,
        *,
        dry_run: bool = False,
        partial: bool = False,
        connector_factory: ConnectorFactory = open_connector,
        rows: list[ReviewRow] | None = None,
        decided_by: str | None = None,
    ) -> None:
        """``path``: the review file; or ``rows`` decided elsewhere (the web app) by ``decided_by``."""
        if (path is None) == (rows is None):
            raise ValueError("give either a review file or decided rows")
        self.config = config
        self.store = store
        self.path = path
        self.rows = rows
        self.decided_by = decided_by
        self.dry_run = dry_run
        self.partial = partial
        self.connector_factory = connector_factory
        self.report = ApplyReport(str(path) if path is not None else f"decided by {decided_by}", dry_run)
        self._connectors: dict[str, Connector] = {}
        self._targets: dict[tuple[str, str], TargetEntity] = {}
        self._linkers: dict[str, CompanyLinker | None] = {}
        self._stored: dict[int, reviews.StoredReviewRow] = {}  # id(row) -> what the import stored

    def run(self) -> ApplyReport:
        rows = read_review(self.path) if self.path is not None else list(self.rows or [])
        try:
            valid = self._check(rows)
            if self.report.refused and not self.partial:
                self.report.applied = False
                self.report.plan = []
                return self.report
            entities = sorted({row.entity for row in valid})
            if not self.dry_run and valid:
                origin = {"file": str(self.path)} if self.path is not None else {"decided_by": self.decided_by}
                self.report.run_id = self.store.start_run(
                    RUN_KIND, entities[0] if entities else None, {**origin, "partial": self.partial}
                )
            status = "failed"
            try:
                for row in valid:
                    self._apply(row)
                status = "ok"
            finally:
                if self.report.run_id is not None:
                    self.store.finish_run(self.report.run_id, status, self.report.summary())
        finally:
            for connector in self._connectors.values():
                connector.close()
        return self.report

    @property
    def run_id(self) -> int | None:
        return self.report.run_id

    def _target(self, system: str, entity: str) -> TargetEntity:
        if (system, entity) not in self._targets:
            if system not in self._connectors:
                self._connectors[system] = self.connector_factory(self.config, system)
            self._targets[(system, entity)] = TargetEntity(self.config, self._connectors[system], entity)
        return self._targets[(system, entity)]

    def _linker(self, target: TargetEntity) -> CompanyLinker | None:
        if target.system not in self._linkers:
            self._linkers[target.system] = (
                CompanyLinker(self._target(target.system, COMPANY_ENTITY), self.config.model.default_region)
                if applies(target)
                else None
            )
        return self._linkers[target.system]

    def _where(self, row: ReviewRow) -> str:
        if self.path is None:
            return f"import run {row.run_id} row {row.review_id}"
        return f"{self.path}:{row.line}" + (f" ({row.review_id})" if row.review_id else "")

    def _cause(self, row: ReviewRow, what: str) -> str:
        """The audit cause of a row's writes: the file (or the person) and the decision."""
        if self.path is None:
            return f"review of import run {row.run_id} {row.review_id}: {what}; decided by {self.decided_by}"
        return f"review {self.path.name} {row.review_id}: {what}"

    def _fail(self, row: ReviewRow, message: str) -> None:
        self.report.failed += 1
        self.report.failures.append(f"{self._where(row)}: {message}")

    # ------------------------------------------------------------------ checks before any write
    def _check(self, rows: list[ReviewRow]) -> list[ReviewRow]:
        """The decided rows that may be applied, with the stored values in place of the file's."""
        decided = [row for row in rows if row.decision is not None]
        self.report.undecided = len(rows) - len(decided)
        run_ids = sorted({row.run_id for row in decided if row.run_id is not None})
        stored: dict[tuple[int, str], reviews.StoredReviewRow] = {}
        with self.store.read() as conn:
            known_runs = reviews.import_runs(conn, run_ids)
            for run_id in known_runs:
                for review_id, item in reviews.review_rows(
                    conn, run_id, [r.review_id for r in decided if r.run_id == run_id]
                ).items():
                    stored[(run_id, review_id)] = item
        valid: list[ReviewRow] = []
        seen: set[tuple[int, str]] = set()
        for row in decided:
            try:
                if row.run_id is None or not row.review_id:
                    raise _Refused(
                        "the row has no run id or review number: only rows written by `einklang import` can be applied"
                    )
                if row.run_id not in known_runs:
                    raise _Refused(f"run {row.run_id} is not an import run that wrote a review file")
                found = stored.get((row.run_id, row.review_id))
                if found is None:
                    raise _Refused(f"import run {row.run_id} wrote no row {row.review_id}")
                if (row.run_id, row.review_id) in seen:
                    raise _Refused(f"{row.review_id} of run {row.run_id} is in the file twice")
                seen.add((row.run_id, row.review_id))
                item = found
                self._compare(row, item)
                trusted = self._trusted(row, item)
                if item.applied:
                    self.report.already_applied += 1
                    continue
                target = self._target(trusted.system, trusted.entity)
                if self._already_applied(trusted, target):
                    self.report.already_applied += 1
                    continue
                self._check_decision(trusted, target)
            except _Refused as refused:
                self.report.refused += 1
                self._fail(row, str(refused))
                continue
            except ConnectorError as exc:
                self.report.refused += 1
                self._fail(row, f"{row.system}: {exc}")
                continue
            self._stored[id(trusted)] = item
            valid.append(trusted)
            self.report.plan.append(
                {
                    "review_id": trusted.review_id,
                    "line": trusted.line,
                    "kind": trusted.kind,
                    "decision": trusted.decision,
                    "sources": trusted.sources,
                }
            )
        return valid

    def _compare(self, row: ReviewRow, item: reviews.StoredReviewRow) -> None:
        """Refuse a row whose technical columns differ from what the import wrote."""
        differences = []
        for label, in_file, in_store in (
            ("system", row.system, item.system),
            ("entity", row.entity, item.entity),
            ("kind", row.kind, item.kind),
        ):
            if in_file != in_store:
                differences.append(f"{label} {in_file!r} (the import wrote {in_store!r})")
        file_ids = [c.native_id for c in row.candidates]
        store_ids = [c.native_id for c in item.candidates]
        if file_ids != store_ids:
            differences.append(
                f"candidate ids {', '.join(file_ids) or 'none'} (the import wrote {', '.join(store_ids) or 'none'})"
            )
        if sorted(row.fingerprints) != sorted(item.fingerprints):
            differences.append("fingerprints")
        if (row.golden_id or None) != item.golden_id:
            differences.append("golden_id")
        if differences:
            raise _Refused(
                "the row differs from what import run "
                f"{item.run_id} wrote: {'; '.join(differences)}; leave the hidden columns as they are"
            )

    @staticmethod
    def _trusted(row: ReviewRow, item: reviews.StoredReviewRow) -> ReviewRow:
        """The row as the import wrote it, with the person's decision and choices from the file."""
        return replace(
            row,
            kind=item.kind,
            system=item.system,
            entity=item.entity,
            golden_id=item.golden_id,
            fingerprints=list(item.fingerprints),
            incoming=dict(item.incoming),
            candidates=[ReviewCandidate(c.native_id, c.version, None) for c in item.candidates],
        )

    def _check_decision(self, row: ReviewRow, target: TargetEntity) -> None:
        if row.decision != "merge":
            if row.kind == "account" and row.decision in ("create", "not-duplicate") and self._linker(target) is None:
                raise _Refused(f"{target.system} keeps no separate company records")
            return
        candidate = row.candidate(row.merge_into)
        if candidate is None or candidate.native_id == "(new)":
            raise _Refused(f"merge into candidate {row.merge_into}: there is no such candidate")
        entity = COMPANY_ENTITY if row.kind == "account" else target.entity
        if target.connector.get(entity, [candidate.native_id]).get(candidate.native_id) is None:
            raise _Refused(f"candidate {candidate.native_id} no longer exists in {target.system}")
        if row.kind == "account" and self._contact_native_id(row, target) is None:
            raise _Refused("the contact of this row is not linked (was it deleted or undone?)")

    def _mark(self, row: ReviewRow) -> InTransaction:
        item = self._stored[id(row)]
        decision = str(row.decision)

        def mark(conn: Connection) -> None:
            reviews.mark_applied(conn, item.run_id, item.review_id, self.run_id, decision)

        return mark

    # ------------------------------------------------------------------ one row
    def _apply(self, row: ReviewRow) -> None:
        target = self._target(row.system, row.entity)
        if self.dry_run:
            self._count_planned(row)
            return
        try:
            if row.kind == "account":
                self._apply_account(row, target)
            else:
                self._apply_contact(row, target)
        except StaleVersion:
            self._fail(
                row,
                "the existing record changed after the review file was written; "
                "run the import again for a fresh review file",
            )
        except ConnectorError as exc:
            self._fail(row, str(exc))

    def _count_planned(self, row: ReviewRow) -> None:
        report = self.report
        if row.kind == "account":
            if row.decision == "skip":
                report.skipped += 1
            else:
                report.attached += 1
        elif row.decision == "merge":
            report.merged += 1
        elif row.decision == "create":
            report.created += 1
        elif row.decision == "skip":
            report.skipped += 1
        elif row.decision == "not-duplicate":
            report.not_duplicate += 1
            report.created += 1

    def _already_applied(self, row: ReviewRow, target: TargetEntity) -> bool:
        """A row applied before the review rows were stored, or whose mark a crash lost."""
        if row.kind == "account":
            contact_id = self._contact_native_id(row, target)
            if contact_id is None:
                return False
            current = target.connector.get(target.entity, [contact_id]).get(contact_id)
            return current is not None and target.canonical(current).get(ACCOUNT_REFERENCE_FIELD) is not None
        if not row.fingerprints:
            return False
        with self.store.read() as conn:
            known = imports.known_fingerprints(conn, target.entity, row.fingerprints)
        if len(known) < len(set(row.fingerprints)):
            return False
        # rows linked by the import itself point at the row's golden id until a decision moves them
        return row.golden_id is None or any(value != row.golden_id for value in known.values())

    def _incoming(self, row: ReviewRow, target: TargetEntity) -> CanonicalRecord:
        return to_entity_record(
            row.incoming, self.config.entity_spec(target.entity), target.fields, self.config.normalize_context
        )

    def _apply_contact(self, row: ReviewRow, target: TargetEntity) -> None:
        cause = self._cause(row, f"{row.decision} ({'; '.join(row.sources)})")
        if row.decision == "merge":
            self._merge(row, target, cause)
        elif row.decision == "create":
            self._create(row, target, cause)
        elif row.decision == "skip":
            self._skip(row, target, cause)
        elif row.decision == "not-duplicate":
            pairs = [
                (imports.incoming_key(fp), imports.record_key(target.system, c.native_id))
                for fp in row.fingerprints
                for c in row.candidates
                if c.native_id != "(new)"
            ]
            with self.store.transaction() as conn:
                added = [pair for pair in pairs if imports.add_exclusion(conn, target.entity, *pair)]
                journal.audit(
                    conn,
                    self.run_id,
                    [
                        {
                            "system": target.system,
                            "entity": target.entity,
                            "op": "decision",
                            "new": {"decision": "not-duplicate", "pairs": [list(p) for p in added]},
                            "cause": cause,
                        }
                    ],
                )
            if self._create(row, target, cause):
                self.report.not_duplicate += 1

    def _merge(self, row: ReviewRow, target: TargetEntity, cause: str) -> None:
        candidate = row.candidate(row.merge_into)
        if candidate is None or candidate.native_id == "(new)":
            self._fail(row, f"merge into candidate {row.merge_into}: there is no such candidate")
            return
        current_native = target.connector.get(target.entity, [candidate.native_id]).get(candidate.native_id)
        if current_native is None:
            self._fail(row, f"candidate {candidate.native_id} no longer exists in {target.system}")
            return
        current = target.canonical(current_native)
        incoming = self._incoming(row, target)
        changes: CanonicalRecord = {}
        for name, value in incoming.items():
            if name == ACCOUNT_REFERENCE_FIELD or value is None:
                continue
            choice = row.take.get(name)
            if (choice == "incoming" and value != current.get(name)) or (choice is None and current.get(name) is None):
                changes[name] = value
        if changes:
            update_record(
                self.store,
                target,
                self.run_id,
                candidate.native_id,
                changes,
                candidate.version or current_native.version,
                row.fingerprints,
                cause,
                also=self._mark(row),
            )
        else:
            link_existing(
                self.store, target, self.run_id, current_native, row.fingerprints, cause, also=self._mark(row)
            )
        self.report.merged += 1

    def _create(self, row: ReviewRow, target: TargetEntity, cause: str) -> bool:
        record = self._incoming(row, target)
        linker = self._linker(target)
        if linker is not None:
            decision = linker.decide(record)
            if decision.action == "attach":
                record[ACCOUNT_REFERENCE_FIELD] = decision.account_id
            elif decision.action == "create":
                record[ACCOUNT_REFERENCE_FIELD] = linker.create_account(self.store, self.run_id, record, cause)
        outcome = create_records(
            self.store,
            target,
            self.run_id,
            [PlannedCreate(record, cause, tuple(row.fingerprints))],
            also=self._mark(row),
        )[0]
        if outcome.native is None:
            self._fail(row, f"create refused by {target.system}: {outcome.error}")
            return False
        self.report.created += 1
        return True

    def _skip(self, row: ReviewRow, target: TargetEntity, cause: str) -> None:
        # Rows the import already linked stay linked: skipping only means "change nothing".
        fingerprints = [] if row.golden_id else row.fingerprints
        with self.store.transaction() as conn:
            imports.remember_fingerprints(conn, target.entity, dict.fromkeys(fingerprints, imports.SKIPPED))
            journal.audit(
                conn,
                self.run_id,
                [
                    {
                        "system": target.system,
                        "entity": target.entity,
                        "op": "decision",
                        "new": {"decision": "skip", "fingerprints": fingerprints},
                        "cause": cause,
                    }
                ],
            )
            self._mark(row)(conn)
        self.report.skipped += 1

    # ------------------------------------------------------------------ account rows
    def _contact_native_id(self, row: ReviewRow, target: TargetEntity) -> str | None:
        if not row.golden_id:
            return None
        with self.store.read() as conn:
            link = links.links_of_golden(conn, row.golden_id).get(target.system)
        return link.native_id if link else None

    def _apply_account(self, row: ReviewRow, target: TargetEntity) -> None:
        cause = self._cause(row, f"company of the contact ({row.decision})")
        contact_id = self._contact_native_id(row, target)
        if contact_id is None:
            self._fail(row, "the contact of this row is not linked (was it deleted or undone?)")
            return
        account_id: str | None = None
        if row.decision == "merge":
            candidate = row.candidate(row.merge_into)
            if candidate is None:
                self._fail(row, f"merge into candidate {row.merge_into}: there is no such candidate")
                return
            account_id = candidate.native_id
        elif row.decision in ("create", "not-duplicate"):
            linker = self._linker(target)
            if linker is None:
                self._fail(row, f"{target.system} keeps no separate company records")
                return
            account_id = linker.create_account(self.store, self.run_id, self._incoming(row, target), cause)
        else:
            with self.store.transaction() as conn:
                self._mark(row)(conn)
            self.report.skipped += 1
            return
        if account_id is None:
            self._fail(row, "the account could not be created")
            return
        update_record(
            self.store,
            target,
            self.run_id,
            contact_id,
            {ACCOUNT_REFERENCE_FIELD: account_id},
            None,
            [],
            cause,
            also=self._mark(row),
        )
        self.report.attached += 1


def apply_review(
    config: LoadedConfig,
    store: StateStore,
    path: Path,
    *,
    dry_run: bool = False,
    partial: bool = False,
    connector_factory: ConnectorFactory = open_connector,
) -> ApplyReport:
    """Apply the decided rows of a review file; all or nothing unless ``partial`` (see the module doc)."""
    return ReviewApplier(
        config, store, path, dry_run=dry_run, partial=partial, connector_factory=connector_factory
    ).run()


def apply_review_rows(
    config: LoadedConfig,
    store: StateStore,
    rows: list[ReviewRow],
    decided_by: str,
    *,
    dry_run: bool = False,
    connector_factory: ConnectorFactory = open_connector,
) -> ApplyReport:
    """Apply review rows decided outside a file (the web app, the API): the same checks and writes
    as a review file, each row checked against what its import stored; audited with ``decided_by``."""
    return ReviewApplier(
        config, store, None, rows=rows, decided_by=decided_by, dry_run=dry_run, connector_factory=connector_factory
    ).run()

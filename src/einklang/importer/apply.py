"""``review apply``: carry out the decisions a person wrote into a review file.

* **merge**: fill (or, where ``take_<field>`` says incoming, overwrite) the fields of candidate
  ``merge_into`` with the incoming values; an update through the connector, conditional on the
  version the review file saw. For ``kind`` account: attach the contact to that account.
* **create**: create the incoming record as new (for ``kind`` account: a new account).
* **skip**: leave the incoming record out; a rerun of the import does not propose it again.
* **not-duplicate**: remember that the incoming record is none of the candidates (the pair is
  never proposed again) and create it.

Every change is audited under the review run's id, so ``einklang undo RUN_ID`` reverts it.
Applying the same file twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector, ConnectorError, StaleVersion
from einklang.importer.company_link import ACCOUNT_REFERENCE_FIELD, COMPANY_ENTITY, CompanyLinker, applies
from einklang.importer.matching import to_entity_record
from einklang.importer.review import ReviewRow, read_review
from einklang.importer.writes import PlannedCreate, TargetEntity, create_records, link_existing, update_record
from einklang.model import CanonicalRecord
from einklang.store import imports, journal, links
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
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"review_file": self.review_file, "dry_run": self.dry_run, "run_id": self.run_id,
                "merged": self.merged, "created": self.created, "skipped": self.skipped,
                "not_duplicate": self.not_duplicate, "attached": self.attached, "undecided": self.undecided,
                "already_applied": self.already_applied, "failed": self.failed}

    def as_dict(self) -> dict[str, Any]:
        data = self.summary()
        data["failures"] = self.failures
        data["plan"] = self.plan
        return data


class ReviewApplier:
    def __init__(self, config: LoadedConfig, store: StateStore, path: Path, *, dry_run: bool = False,
                 connector_factory: ConnectorFactory = open_connector) -> None:
        self.config = config
        self.store = store
        self.path = path
        self.dry_run = dry_run
        self.connector_factory = connector_factory
        self.report = ApplyReport(str(path), dry_run)
        self._connectors: dict[str, Connector] = {}
        self._targets: dict[tuple[str, str], TargetEntity] = {}
        self._linkers: dict[str, CompanyLinker | None] = {}

    def run(self) -> ApplyReport:
        rows = read_review(self.path)
        entities = sorted({row.entity for row in rows if row.entity})
        if not self.dry_run:
            self.report.run_id = self.store.start_run(RUN_KIND, entities[0] if entities else None,
                                                      {"file": str(self.path)})
        status = "failed"
        try:
            for row in rows:
                self._apply(row)
            status = "ok"
        finally:
            for connector in self._connectors.values():
                connector.close()
            if self.report.run_id is not None:
                self.store.finish_run(self.report.run_id, status, self.report.summary())
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
                if applies(target) else None)
        return self._linkers[target.system]

    def _fail(self, row: ReviewRow, message: str) -> None:
        self.report.failed += 1
        self.report.failures.append(f"{self.path}:{row.line} ({row.review_id}): {message}")

    # ------------------------------------------------------------------ one row
    def _apply(self, row: ReviewRow) -> None:
        if row.decision is None:
            self.report.undecided += 1
            return
        if not row.system or not row.entity:
            self._fail(row, "the row lacks its system/entity columns (was the file written by einklang import?)")
            return
        target = self._target(row.system, row.entity)
        if self._already_applied(row, target):
            self.report.already_applied += 1
            return
        self.report.plan.append({"review_id": row.review_id, "kind": row.kind, "decision": row.decision,
                                 "sources": row.sources})
        if self.dry_run:
            return
        try:
            if row.kind == "account":
                self._apply_account(row, target)
            else:
                self._apply_contact(row, target)
        except StaleVersion:
            self._fail(row, "the existing record changed after the review file was written; "
                            "run the import again for a fresh review file")
        except ConnectorError as exc:
            self._fail(row, str(exc))

    def _already_applied(self, row: ReviewRow, target: TargetEntity) -> bool:
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
        return to_entity_record(row.incoming, self.config.entity_spec(target.entity), target.fields,
                                self.config.normalize_context)

    def _apply_contact(self, row: ReviewRow, target: TargetEntity) -> None:
        cause = f"review {self.path.name} {row.review_id}: {row.decision} ({'; '.join(row.sources)})"
        if row.decision == "merge":
            self._merge(row, target, cause)
        elif row.decision == "create":
            self._create(row, target, cause)
        elif row.decision == "skip":
            self._skip(row, target, cause)
        elif row.decision == "not-duplicate":
            pairs = [(imports.incoming_key(fp), imports.record_key(target.system, c.native_id))
                     for fp in row.fingerprints for c in row.candidates if c.native_id != "(new)"]
            with self.store.transaction() as conn:
                added = [pair for pair in pairs if imports.add_exclusion(conn, target.entity, *pair)]
                journal.audit(conn, self.run_id, [{
                    "system": target.system, "entity": target.entity, "op": "decision",
                    "new": {"decision": "not-duplicate", "pairs": [list(p) for p in added]}, "cause": cause}])
            self.report.not_duplicate += 1
            self._create(row, target, cause)

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
            update_record(self.store, target, self.run_id, candidate.native_id, changes,
                          candidate.version or current_native.version, row.fingerprints, cause)
        else:
            link_existing(self.store, target, self.run_id, current_native, row.fingerprints, cause)
        self.report.merged += 1

    def _create(self, row: ReviewRow, target: TargetEntity, cause: str) -> None:
        record = self._incoming(row, target)
        linker = self._linker(target)
        if linker is not None:
            decision = linker.decide(record)
            if decision.action == "attach":
                record[ACCOUNT_REFERENCE_FIELD] = decision.account_id
            elif decision.action == "create":
                record[ACCOUNT_REFERENCE_FIELD] = linker.create_account(self.store, self.run_id, record, cause)
        outcome = create_records(self.store, target, self.run_id,
                                 [PlannedCreate(record, cause, tuple(row.fingerprints))])[0]
        if outcome.native is None:
            self._fail(row, f"create refused by {target.system}: {outcome.error}")
            return
        self.report.created += 1

    def _skip(self, row: ReviewRow, target: TargetEntity, cause: str) -> None:
        # Rows the import already linked stay linked: skipping only means "change nothing".
        fingerprints = [] if row.golden_id else row.fingerprints
        with self.store.transaction() as conn:
            imports.remember_fingerprints(conn, target.entity, dict.fromkeys(fingerprints, imports.SKIPPED))
            journal.audit(conn, self.run_id, [{
                "system": target.system, "entity": target.entity, "op": "decision",
                "new": {"decision": "skip", "fingerprints": fingerprints}, "cause": cause}])
        self.report.skipped += 1

    # ------------------------------------------------------------------ account rows
    def _contact_native_id(self, row: ReviewRow, target: TargetEntity) -> str | None:
        if not row.golden_id:
            return None
        with self.store.read() as conn:
            link = links.links_of_golden(conn, row.golden_id).get(target.system)
        return link.native_id if link else None

    def _apply_account(self, row: ReviewRow, target: TargetEntity) -> None:
        cause = f"review {self.path.name} {row.review_id}: company of the contact ({row.decision})"
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
            self.report.skipped += 1
            return
        if account_id is None:
            self._fail(row, "the account could not be created")
            return
        update_record(self.store, target, self.run_id, contact_id, {ACCOUNT_REFERENCE_FIELD: account_id}, None, [],
                      cause)
        self.report.attached += 1


def apply_review(config: LoadedConfig, store: StateStore, path: Path, *, dry_run: bool = False,
                 connector_factory: ConnectorFactory = open_connector) -> ApplyReport:
    return ReviewApplier(config, store, path, dry_run=dry_run, connector_factory=connector_factory).run()

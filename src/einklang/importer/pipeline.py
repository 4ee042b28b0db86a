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

The rows are never all in memory (the aim: a million-row file in under a gigabyte; what is
measured is in bench/RESULTS_dedupe.md): each batch of rows is validated, written to a temporary
row store (:mod:`einklang.importer.row_store`), looked up in the state store (fingerprints,
"not a duplicate" decisions) and fed to the matcher, which prepares them into its own on-disk
table and finds pairs across the whole file. What stays in memory grows by a few bytes a row
(a union-find slot, person numbers, flags): the possible pairs within the file and those with
the target's records, who is held back beside whom, and the review rows all go to temporary
files as they come (:mod:`einklang.importer.spool`, :mod:`einklang.importer.held_back`,
:mod:`einklang.importer.review_log`). The merged contacts are read back from the row store in
input order, one at a time, for each step that needs them, and new contacts are created a
batch at a time.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector, chunked
from einklang.importer.company_link import (
    ACCOUNT_REFERENCE_FIELD,
    COMPANY_ENTITY,
    CompanyLinker,
    applies,
)
from einklang.importer.held_back import HELD_CHUNK, HeldBack, KeptRecord, hold_back
from einklang.importer.incoming import PROGRESS_EVERY, Progress, iter_rows
from einklang.importer.matching import match_record, spec_for_entity, to_entity_record
from einklang.importer.memory import release_memory
from einklang.importer.merge import MergedContact
from einklang.importer.outcomes import Existing, NewContact, Outcomes
from einklang.importer.persons import Persons, ReadRows
from einklang.importer.review import MAX_CANDIDATES, write_review
from einklang.importer.review_log import ReviewLog
from einklang.importer.review_store import review_details
from einklang.importer.row_store import RowStore
from einklang.importer.run_report import ImportReport, check_review_path
from einklang.importer.spool import PairLog
from einklang.importer.writes import (
    PlannedCreate,
    TargetEntity,
    create_records,
    finish_interrupted_creates,
    shown,
)
from einklang.match import Backend, CandidatePair
from einklang.store import imports, links, reviews
from einklang.store.state import StateStore

T = TypeVar("T")

RUN_KIND = "import"
ROWS_PER_BATCH = 5000
"""Rows read, looked up and handed to the matcher (and contacts created) per step."""
MATCH_MEMORY_LIMIT = "512MB"
"""DuckDB's memory while the import matches (the matcher's default is 2 GB), unless the config
sets ``dedupe.memory_limit``. At 256 MB a million-row import stopped with DuckDB out of memory
while building the blocked pairs (not every step spills); at 512 MB it finished, peaking at
1.5 GB in all (bench/RESULTS_dedupe.md). An import that finishes comes first. The slices of
blocked pairs are sized to the limit (:func:`einklang.match.backend.pairs_within`): with the
2 GB slices a 100,000-row import ran out of memory at 512 MB."""
MATCH_THREADS = 1
"""DuckDB's threads while the import matches: every thread keeps buffers of its own."""


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
        self.review_fields = tuple(name for name in self.target.fields if name != ACCOUNT_REFERENCE_FIELD)
        self.outcomes = Outcomes(store, self.target, self.report, self.review_fields, lang=lang, dry_run=dry_run)
        self.linker: CompanyLinker | None = None
        if applies(self.target):
            self.linker = CompanyLinker(TargetEntity(config, connector, COMPANY_ENTITY), self.region)
        self._planned_accounts: set[str] = set()
        self.batches_looked_up = 0
        """Batches of rows looked up in the state store so far (they are, while the files are read)."""

    @property
    def run_id(self) -> int | None:
        return self.report.run_id

    @property
    def review_rows(self) -> ReviewLog:
        return self.outcomes.rows

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
            with RowStore() as rows:
                self._run(rows)
            status = "ok"
        finally:
            self.outcomes.close()
            if report.run_id is not None:
                self.store.finish_run(report.run_id, status, report.summary())
        return report

    # ------------------------------------------------------------------ steps
    def _run(self, rows: RowStore) -> None:
        report = self.report
        if not self.dry_run:
            if self.linker is not None:
                report.recovered += finish_interrupted_creates(self.store, self.linker.accounts, self.run_id)
            report.recovered += finish_interrupted_creates(self.store, self.target, self.run_id)
        existing: Existing = {native.native_id: (native, record) for native, record in self.target.read_records()}
        reading = ReadRows(rows, check_exclusions=bool(existing))
        # Known rows take part in merging, so that a new row of an imported person is recognised
        # as that person even when the target record alone would not tell.
        possible = rows.pair_log("possible")
        self._match_within_file(reading, possible)
        report.files = reading.reports
        report.rows_read = sum(f.rows_read for f in reading.reports)
        report.rows_usable = rows.count
        persons = Persons(rows, reading.groups)
        in_pair = bytearray(persons.count + 1)
        for _, person_a, person_b, _ in persons.person_pairs(possible):
            in_pair[person_a] = in_pair[person_b] = 1
        fresh, exclude = self._set_aside_known(persons, reading, existing)
        with_target = rows.pair_log("with_target")
        has_pairs = self._match_existing(persons, fresh, existing, exclude, with_target)
        is_new = bytearray(len(fresh))
        completeness = array("i", [-1]) * (persons.count + 1)
        self._decide(persons.contacts(fresh), with_target, has_pairs, existing, is_new, in_pair, completeness)
        del in_pair, has_pairs
        held = hold_back(
            HeldBack(persons.count, possible, rows.spool("kept")),
            persons.person_pairs(possible),
            completeness,
            self.outcomes.linked,
        )
        del completeness
        self._create_new(persons, is_new, held)
        self.outcomes.held_back(held, persons.by_number)
        self.outcomes.add_accounts_to_choose()
        counted = self.outcomes.counted
        report.to_review = sum(count for kind, count in counted.items() if kind != "account")
        report.accounts_to_review = counted.get("account", 0)
        if self.review_rows and not self.dry_run:
            path = self.review_path or Path(f"einklang-review-{self.run_id}.xlsx")
            self._store_review_rows()
            write_review(path, self.review_rows, self.review_fields, self.lang)
            report.review_file = str(path)

    def _decide(
        self,
        contacts: Iterator[tuple[int, MergedContact]],
        with_target: PairLog,
        has_pairs: bytearray,
        existing: Existing,
        is_new: bytearray,
        in_pair: bytearray,
        completeness: array[int],
    ) -> None:
        """Link or list each person with pairs in the target; mark the others new (``is_new``),
        with how complete they are where they are in a pair within the input."""
        for batch in chunked(self._counted(contacts, "deciding, persons"), HELD_CHUNK):
            pairs_of = with_target.of_a(contact.key for number, contact in batch if has_pairs[number])
            for number, contact in batch:
                pairs = pairs_of.get(contact.key, [])
                if any(pair.verdict == "duplicate" for pair in pairs):
                    self.outcomes.sure_duplicate(contact, pairs, existing)
                elif pairs:
                    self.outcomes.possible_duplicate(contact, pairs, existing)
                elif self._needs_a_real_name(contact):
                    self.outcomes.without_name(contact)
                else:
                    is_new[number] = 1
                    if in_pair[number]:
                        completeness[number] = contact.completeness()

    def _match_within_file(self, reading: ReadRows, possible: PairLog) -> None:
        """Read every file a batch at a time into the row store and the matcher; join the rows of
        sure pairs, keep the possible ones (by row position) in ``possible``."""
        from einklang.match import iter_duplicates

        def records() -> Iterator[dict[str, object]]:
            yielded = 0
            for batch in chunked(iter_rows(self.paths, reading.reports, self.region, self.progress), ROWS_PER_BATCH):
                first = reading.add(batch, self._known_fingerprints, self._exclusions)
                self.batches_looked_up += 1
                # No ids: the matcher numbers the records from 0 as the row store numbers the rows
                # (and keeps a range, not a million ids); a pair's ids are row positions.
                assert first == yielded
                for row in batch:
                    yield match_record(None, row.values)
                yielded += len(batch)
            release_memory()  # read and prepared: what reading used is DuckDB's now
            if self.progress is not None:
                self.progress("matching the rows with each other", reading.rows.count)

        pairs = iter_duplicates(
            records(), spec=self.match_spec, default_region=self.region, backend=_backend(self.config)
        )
        for pair in pairs:
            if pair.verdict == "duplicate":
                reading.groups.join(int(str(pair.a_id)), int(str(pair.b_id)))
            elif pair.verdict == "possible":
                possible.add(pair)

    def _set_aside_known(
        self, persons: Persons, reading: ReadRows, existing: Existing
    ) -> tuple[bytearray, list[tuple[str, str]]]:
        """Count the rows earlier runs imported; the persons still to match (by number) and the
        (person, target record) pairs declared "not a duplicate"."""
        report = self.report
        known = reading.known
        fresh = bytearray(b"\x01") * (persons.count + 1)
        fresh[0] = 0
        exclude: list[tuple[str, str]] = []
        if not known and not reading.excluded:
            report.persons += persons.count
            report.merged_rows = report.rows_usable - report.persons
            return fresh, exclude
        imported_natives = self._imported_natives(set(known.values()) - {imports.SKIPPED})
        # Every usable row is counted once: imported before, or one of a person's rows; every person
        # ends created, linked, waiting for a decision or failed.
        person_rows = 0
        for number, contact in self._counted(persons.contacts(), "checking earlier imports, persons"):
            known_targets = [known[fp] for fp in contact.fingerprints if fp in known]
            if not known_targets:
                person_rows += len(contact.rows)
                report.persons += 1
                exclude.extend(reading.exclusions_of(contact))
                continue
            fresh[number] = 0
            native_id = next((imported_natives[g] for g in known_targets if g in imported_natives), None)
            found = existing.get(native_id) if native_id is not None else None
            if len(known_targets) == len(contact.fingerprints):
                report.already_imported += len(contact.rows)
                if found is not None:
                    self.outcomes.linked[contact.key] = (found[0], found[1], contact.sources)
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
                self.outcomes.sure_duplicate(contact, [pair], existing)
            else:
                fresh[number] = 1
                person_rows += len(contact.rows)
                report.persons += 1
                exclude.extend(reading.exclusions_of(contact))
        report.merged_rows = person_rows - report.persons
        return fresh, exclude

    def _counted(self, items: Iterable[T], step: str) -> Iterator[T]:
        """``items`` as they are, telling the progress bar how far ``step`` has come."""
        count = 0
        for item in items:
            count += 1
            if self.progress is not None and count % PROGRESS_EVERY == 0:
                self.progress(step, count)
            yield item
        if self.progress is not None:
            self.progress(step, count)

    def _match_existing(
        self, persons: Persons, fresh: bytearray, existing: Existing, exclude: list[tuple[str, str]], found: PairLog
    ) -> bytearray:
        """Match the persons still to match (``fresh``) with the target's records: their pairs go
        to ``found`` (a: the person's key, b: the record's native id); by person, whether it has any."""
        has_pairs = bytearray(persons.count + 1)
        if not any(fresh) or not existing:
            return has_pairs
        from einklang.match import iter_duplicates

        def records() -> Iterator[dict[str, object]]:
            for _, contact in self._counted(persons.contacts(fresh), f"matching with {self.target.system}, persons"):
                yield match_record(contact.key, contact.values)
            release_memory()

        release_memory()  # the rows' matching is over: its DuckDB and caches are gone
        pairs = iter_duplicates(
            records(),
            (match_record(native_id, record) for native_id, (_, record) in existing.items()),
            spec=self.match_spec,
            default_region=self.region,
            exclude=exclude,
            backend=_backend(self.config),
        )
        for pair in pairs:
            found.add(pair)
            has_pairs[int(str(pair.a_id)[1:])] = 1
        return has_pairs

    def _store_review_rows(self) -> None:
        """What ``review apply`` trusts instead of the file (which only brings the decisions back)."""
        assert self.run_id is not None
        stored = (
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
        )
        with self.store.transaction() as conn:
            for batch in chunked(stored, ROWS_PER_BATCH):
                reviews.save_review_rows(conn, batch)

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

    def _exclusions(self, fingerprints: list[str]) -> dict[str, list[str]]:
        """fingerprint -> the target's records a person declared it "not a duplicate" of."""
        keys = {imports.incoming_key(fp): fp for fp in fingerprints}
        prefix = f"{self.target.system}:"
        with self.store.read() as conn:
            pairs = imports.excluded_pairs(conn, self.target.entity, keys)
        found: dict[str, list[str]] = {}
        for key_a, key_b in pairs:
            if key_a in keys and key_b.startswith(prefix):
                found.setdefault(keys[key_a], []).append(key_b.removeprefix(prefix))
        return found

    def _needs_a_real_name(self, contact: MergedContact) -> bool:
        """The file gave no name (it was derived from the e-mail) and the target requires one."""
        if not all(row.name_derived for row in contact.rows):
            return False
        fields = self.target.mapping.entity.fields
        return any(fields[name].required for name in ("first_name", "last_name") if name in fields)

    # ------------------------------------------------------------------ new records
    def _create_new(self, persons: Persons, is_new: bytearray, held: HeldBack) -> None:
        """Create the new persons not held back, a batch at a time (accounts first where needed).

        Notes in ``held`` what became of the persons others wait beside, and in the outcomes the
        created ones whose company was unclear.
        """

        def to_create() -> Iterator[NewContact]:
            for number, contact in self._counted(persons.contacts(is_new), "creating, persons"):
                record = to_entity_record(
                    contact.values, self.entity_spec, self.target.fields, self.config.normalize_context
                )
                if number in held:  # kept against one, held back against another: not created
                    held.keep(number, KeptRecord(None, None, shown(record), contact.sources))
                    continue
                yield NewContact(contact, record)

        for batch in chunked(to_create(), ROWS_PER_BATCH):
            self._attach_accounts(batch)
            self._create(batch)
            for item in batch:
                native = item.native
                held.keep(
                    int(item.merged.key[1:]),
                    KeptRecord(
                        native.native_id if native is not None else None,
                        native.version if native is not None else None,
                        shown(item.record),
                        item.merged.sources,
                    ),
                )
                if item.account is not None and item.account.action == "review":
                    self.outcomes.accounts_to_choose([item])

    def _attach_accounts(self, items: list[NewContact]) -> None:
        if self.linker is None:
            return
        for item in items:
            decision = self.linker.decide(item.record)
            item.account = decision
            if decision.action == "attach":
                item.record[ACCOUNT_REFERENCE_FIELD] = decision.account_id
                self.report.accounts_attached += 1
            elif decision.action == "create":
                if self.dry_run:
                    company = str(item.record.get("company"))
                    if company not in self._planned_accounts:
                        self._planned_accounts.add(company)
                        self.report.accounts_created += 1
                        self.report.plan.append({"action": "create-account", "name": company}, "accounts")
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

    def _create(self, items: list[NewContact]) -> None:
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
                    },
                    "creates",
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


def _backend(config: LoadedConfig) -> Backend:
    """DuckDB at the import's own limit, unless the configuration sets ``dedupe.memory_limit``
    (the advice of the engine's out-of-memory error must work for an import too), with slices of
    blocked pairs that fit that limit, on one thread (each thread has its own buffers)."""
    from einklang.match import DuckDBBackend
    from einklang.match.backend import pairs_within

    dedupe = config.model.dedupe
    limit = dedupe.memory_limit if "memory_limit" in dedupe.model_fields_set else MATCH_MEMORY_LIMIT
    return DuckDBBackend(
        threads=MATCH_THREADS, memory_limit=limit, block_cap=dedupe.block_cap, pairs_per_slice=pairs_within(limit)
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

"""Steps of the initial load beyond creating new records: linking, completing, waiting.

- :func:`link_existing`: a source record whose counterpart the target already holds (same key,
  or a sure fuzzy match) is linked to it, and the differences are planned as updates.
- :func:`complete_linked`: a source record already linked to a golden record with no link in
  the target (a system added to a running installation, docs/references.md): matched
  against the target by key, linked if found, else created from the agreed values.
- :func:`plan_waiting`: a record whose reference is not in the target yet is planned like any
  create, and waits in the outbox with the reason; the sync sends it once the reference resolves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from einklang.connectors.base import NativeRecord
from einklang.model import CanonicalRecord
from einklang.store import conflicts, journal, links, outbox
from einklang.store.rows import Link, PlannedWrite
from einklang.sync.creates import CreateItem
from einklang.sync.load_report import LoadIssue
from einklang.sync.matching import best_matches
from einklang.sync.page_mapping import MappedRecord, planned_create
from einklang.sync.references import reference_reason
from einklang.sync.relink import RELINK_CONFLICT_REASON, relinked_values

if TYPE_CHECKING:
    from einklang.sync.initial_load import InitialLoad
    from einklang.sync.target_index import TargetKeyIndex


def link_existing(self: InitialLoad, pairs: list[tuple[NativeRecord, CanonicalRecord, NativeRecord, str]]) -> None:
    """Link each source record to the target record found for it, and plan what makes them agree.

    The agreed state is the source's values, plus the values only the target record has (kept,
    not wiped). Both links remember what their record holds now; a field where a record
    differs from the agreed state is planned as an update in the outbox, sent by the next
    sync cycle (without this, a linked pair that differs would never converge).
    """
    store, entity = self.store, self.entity
    systems = (
        (self.source.system, self.source_mapping),
        (self.target.system, self.target_mapping),
    )
    with store.transaction() as conn:
        bases, seens, holds = [], [], []
        for record, canonical, target_record, _ in pairs:
            target_canonical, _ = self.target_mapping.to_canonical(target_record.fields)
            if self.relink:
                base, held = relinked_values(
                    self.context, self.source.system, self.target.system, canonical, target_canonical
                )
            else:
                base, held = dict(canonical), {}
                for name, value in target_canonical.items():
                    if base.get(name) is None and value is not None:
                        base[name] = value
            bases.append(base)
            holds.append(held)
            seens.append(((record, canonical), (target_record, target_canonical)))
        golden_ids = links.insert_golden(conn, entity, bases)
        writes: list[PlannedWrite] = []
        for gid, base, held, seen_pair in zip(golden_ids, bases, holds, seens, strict=True):
            for name, values in held.items():
                conflicts.insert_conflict(conn, entity, gid, name, None, values, RELINK_CONFLICT_REASON)
                self.report.conflicts += 1
            for (system, mapping), (native, seen) in zip(systems, seen_pair, strict=True):
                links.insert_link(conn, entity, system, gid, native.native_id, native.version, seen)
                writable = set(mapping.writable_fields())
                patch = {
                    name: base.get(name)
                    for name in mapping.canonical_fields
                    if name in writable
                    and name not in held
                    and base.get(name) is not None
                    and base.get(name) != seen.get(name)
                }
                if patch:
                    writes.append(
                        PlannedWrite(
                            system,
                            entity,
                            gid,
                            "update",
                            patch,
                            "initial load: linked record differs from the agreed values",
                            native.native_id,
                            native.version,
                        )
                    )
        outbox.add_outbox(conn, self.report.run_id, writes)
        journal.audit(
            conn,
            self.report.run_id,
            [
                {
                    "system": self.target.system,
                    "entity": entity,
                    "golden_id": gid,
                    "native_id": target_record.native_id,
                    "op": "link",
                    "cause": f"{self._verb}: {reason} as {self.source.system} record {record.native_id}",
                }
                for gid, (record, _, target_record, reason) in zip(golden_ids, pairs, strict=True)
            ],
        )
    self.report.linked += len(pairs)


T = TypeVar("T")


def complete_linked(self: InitialLoad, pending: list[tuple[NativeRecord, Link]], key_index: TargetKeyIndex) -> None:
    """Golden records linked in the source and not yet in the target: link by key, else create.

    The agreed values (the golden base) are what the target gets, not the source's reading of
    this page: the sync may have merged changes from other systems into them.
    """
    report, target, entity = self.report, self.target.system, self.entity
    with self.store.read() as conn:
        bases = {link.golden_id: links.load_golden(conn, link.golden_id) for _, link in pending}
    to_link: list[tuple[NativeRecord, Link, NativeRecord, CanonicalRecord, str]] = []
    unmatched: list[tuple[NativeRecord, Link, CanonicalRecord]] = []
    for record, link in pending:
        loaded = bases.get(link.golden_id)
        if loaded is None or loaded[1] != "active":
            report.skipped += 1
            self._skip(record.native_id, f"its golden record is {loaded[1] if loaded else 'gone'}")
            continue
        base = loaded[0]
        if not key_index.empty:
            key, matches, _ = key_index.lookup(base)
            if len(matches) == 1:
                key_index.take(matches[0])
                to_link.append((record, link, matches[0], base, "same key"))
                continue
            if len(matches) > 1:
                report.skipped += 1
                ids = ", ".join(m.native_id for m in matches[:5])
                self._skip(record.native_id, f"ambiguous key {key}: target records {ids}")
                continue
        unmatched.append((record, link, base))
    problems: list[dict[str, Any]] = []
    if unmatched and self.match_settings is not None and not key_index.empty:
        unmatched, linked = match_fuzzily(
            self, [(link.golden_id, r, base, link.golden_id, (r, link, base)) for r, link, base in unmatched],
            key_index, problems,
        )  # fmt: skip
        to_link.extend((r, link, target, base, reason) for (r, link, base), target, reason in linked)
    to_create = [(link.golden_id, base) for _, link, base in unmatched]
    if self.dry_run:
        report.linked += len(to_link)
        report.created += len(to_create)
        report.plan.extend(
            {"action": "link", "source_id": r.native_id, "target_id": t.native_id, "reason": reason}
            for r, _, t, _, reason in to_link
        )
        report.plan.extend({"action": "create", "golden_id": gid} for gid, _ in to_create)
        return
    with self.store.transaction() as conn:
        journal.add_problems(conn, report.run_id, problems)
        writes: list[PlannedWrite] = []
        for _record, link, target_record, base, _reason in to_link:
            seen, _ = self.target_mapping.to_canonical(target_record.fields)
            links.insert_link(
                conn, entity, target, link.golden_id, target_record.native_id, target_record.version, seen
            )
            writable = set(self.target_mapping.writable_fields())
            patch: CanonicalRecord = {
                name: value
                for name, value in base.items()
                if name in writable and name in self.target_mapping.canonical_fields and value is not None
                and seen.get(name) != value
            }  # fmt: skip
            if patch:
                writes.append(
                    PlannedWrite(
                        target, entity, link.golden_id, "update", patch,
                        "initial load: linked record differs from the agreed values",
                        target_record.native_id, target_record.version,
                    )
                )  # fmt: skip
        outbox.add_outbox(conn, report.run_id, writes)
        journal.audit(
            conn,
            report.run_id,
            [
                {
                    "system": target,
                    "entity": entity,
                    "golden_id": link.golden_id,
                    "native_id": target_record.native_id,
                    "op": "link",
                    "cause": f"{self._verb}: {reason} as {self.source.system} record {record.native_id} "
                    f"(a system added later)",
                }
                for record, link, target_record, _, reason in to_link
            ],
        )
        create_ids = outbox.add_outbox(
            conn,
            report.run_id,
            [
                PlannedWrite(target, entity, gid, "create", base, f"{self._cause} (added later)")
                for gid, base in to_create
            ],
        )
    report.linked += len(to_link)
    items: list[CreateItem] = []
    for (gid, base), outbox_id in zip(to_create, create_ids, strict=True):
        planned = planned_create(self.target_mapping, base, [], gid, self.correlation_field)
        if planned.waiting is not None:
            _note_waiting(self, outbox_id, planned, LoadIssue)
            continue
        items.append(
            CreateItem(
                gid, planned.target_native, f"{self._cause} (added later)", outbox_id=outbox_id, payload=base,
                seen_hash=planned.target_seen_hash, audit_new=planned.audit_new,
            )
        )  # fmt: skip
    if items:
        with self.store.transaction() as conn:
            for item in items:
                assert item.outbox_id is not None and item.payload is not None
                outbox.note_sending(conn, item.outbox_id, item.payload)
        self._send_creates(items)


def match_fuzzily(
    self: InitialLoad,
    candidates: list[tuple[str, NativeRecord, CanonicalRecord, str | None, T]],
    key_index: TargetKeyIndex,
    problems: list[dict[str, Any]],
) -> tuple[list[T], list[tuple[T, NativeRecord, str]]]:
    """Records with no key match in the target, against what it holds (a load's new records, or
    golden records a system added later lacks): a sure, unique match is linked, a possible one
    is held for a person (skipped, with a ``possible_duplicate`` problem; never created beside
    it). ``candidates``: (id to match by, source record, canonical values, golden id if any, item).
    Returns the items that are clearly new, and (item, target record, reason) of the linked."""
    assert self.match_settings is not None
    found = best_matches(
        self.match_settings,
        {match_id: canonical for match_id, _, canonical, _, _ in candidates},
        key_index.free_canonical(),
        self.context.default_region,
    )
    clearly_new: list[T] = []
    linked: list[tuple[T, NativeRecord, str]] = []
    for match_id, record, _, golden_id, item in candidates:
        matches = [m for m in found.get(match_id, []) if not key_index.is_taken(m.existing_id)]
        if not matches:
            clearly_new.append(item)
            continue
        best = matches[0]
        if best.sure and (len(matches) == 1 or not matches[1].sure):
            target_record = key_index.record(best.existing_id)
            key_index.take(target_record)
            linked.append((item, target_record, best.describe()))
            continue
        self.report.skipped += 1
        reason = "; ".join(m.describe() for m in matches[:3]) + " — decide in a review, not created"
        self._skip(record.native_id, reason)
        problem = {"kind": "possible_duplicate", "system": self.target.system, "entity": self.entity}
        if golden_id is not None:
            problem["golden_id"] = golden_id
        problems.append({**problem, "native_id": record.native_id, "message": reason})
    return clearly_new, linked


def plan_waiting(self: InitialLoad, records: list[tuple[NativeRecord, MappedRecord]]) -> None:
    """Records whose reference is not in the target yet: golden record, source link and a waiting create."""
    entity, source, target = self.entity, self.source.system, self.target.system
    with self.store.transaction() as conn:
        links.insert_golden_rows(conn, entity, [(m.golden_id, m.base_json, m.base_hash) for _, m in records])
        links.insert_links(
            conn, entity, source, [(m.golden_id, r.native_id, r.version, m.base_hash) for r, m in records]
        )
        ids = outbox.add_outbox(
            conn,
            self.report.run_id,
            [PlannedWrite(target, entity, m.golden_id, "create", m.canonical, self._cause) for _, m in records],
        )
    for (record, mapped), outbox_id in zip(records, ids, strict=True):
        _note_waiting(self, outbox_id, mapped, LoadIssue, record.native_id)


def _note_waiting(
    self: InitialLoad, outbox_id: int, mapped: MappedRecord, issue: type[LoadIssue], native_id: str | None = None
) -> None:
    assert mapped.waiting is not None
    reason = reference_reason(self.references, mapped.waiting)
    with self.store.transaction() as conn:
        if mapped.waiting.removed:
            outbox.finish_outbox(conn, outbox_id, "failed", reason)
        else:
            outbox.note_waiting(conn, outbox_id, reason)
    if mapped.waiting.removed:
        self.report.failed += 1
        self.report.failures.append(issue(native_id or mapped.golden_id, reason, mapped.waiting.field))
    else:
        self.report.waiting += 1
        self.report.warnings.append(
            issue(native_id or mapped.golden_id, f"{reason}; the next sync sends it", mapped.waiting.field)
        )

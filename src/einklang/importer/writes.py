"""Writing imported records into a system: creates through the one create path, links, updates.

Every create is planned in the outbox (with its golden record) before it is sent and linked
right after (:mod:`einklang.sync.creates`), so an interrupted import that is run again creates
nothing twice (:func:`einklang.sync.recovery.recover_pending_creates` finds what was sent).
Every write is audited with the run id; the audit entries carry what
:mod:`einklang.importer.undo` needs (the row fingerprints, the values before).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector, NativeRecord
from einklang.context import EntityContext, entity_context
from einklang.mapping import EntityMapping
from einklang.model import CanonicalRecord, display, record_hash
from einklang.store import imports, journal, links, outbox
from einklang.store.rows import PlannedWrite
from einklang.store.state import StateStore
from einklang.sync.creates import Created, CreateItem, CreateTarget, native_for_create, send_creates
from einklang.sync.recovery import recover_pending_creates


@dataclass
class TargetEntity:
    """One entity of the system an import writes to."""

    config: LoadedConfig
    connector: Connector
    entity: str
    context: EntityContext = field(init=False)
    mapping: EntityMapping = field(init=False)
    correlation_field: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.context = entity_context(self.config, self.entity)
        self.mapping = self.context.mapping(self.connector.system)
        self.correlation_field = self.connector.capabilities(self.entity).correlation_field

    @property
    def system(self) -> str:
        return self.connector.system

    @property
    def fields(self) -> tuple[str, ...]:
        return self.mapping.canonical_fields

    @property
    def keys(self) -> tuple[str, ...]:
        return self.context.keys

    def other_systems(self) -> list[str]:
        """The entity's other systems that receive new records."""
        return [system for system in self.context.systems if system != self.system and self.context.creates_in(system)]

    def read_records(self) -> list[tuple[NativeRecord, CanonicalRecord]]:
        records: list[tuple[NativeRecord, CanonicalRecord]] = []
        for page in self.connector.read_all(self.entity):
            for native in page:
                canonical, _ = self.mapping.to_canonical(native.fields)
                records.append((native, canonical))
        return records

    def canonical(self, native: NativeRecord) -> CanonicalRecord:
        return self.mapping.to_canonical(native.fields)[0]

    def native_for_create(self, golden_id: str, record: CanonicalRecord) -> dict[str, Any]:
        return native_for_create(self.mapping, self.correlation_field, golden_id, record)


InTransaction = Callable[[Connection], None]
"""More store writes of the caller, committed together with a write's link and audit entry."""


@dataclass(frozen=True)
class PlannedCreate:
    record: CanonicalRecord
    cause: str
    fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateOutcome:
    planned: PlannedCreate
    golden_id: str
    native: NativeRecord | None
    error: str | None = None


def shown(record: Mapping[str, Any]) -> dict[str, str]:
    return {name: display(value) for name, value in record.items() if value is not None}


def finish_interrupted_creates(store: StateStore, target: TargetEntity, run_id: int | None) -> int:
    """Link what an interrupted run created and send what it never sent; return how many."""
    recovery = recover_pending_creates(store, target.connector, target.mapping, target.entity, target.keys, run_id)
    for entry in recovery.to_create:
        _send(store, target, run_id, [(entry.id, entry.golden_id, PlannedCreate(entry.payload, entry.cause))])
    return recovery.linked + len(recovery.to_create)


def create_records(
    store: StateStore,
    target: TargetEntity,
    run_id: int | None,
    planned: Sequence[PlannedCreate],
    *,
    also: InTransaction | None = None,
) -> list[CreateOutcome]:
    """Create records in the target through the outbox; outcomes in the order of ``planned``.

    ``also`` runs in the transaction that links the created records (once per batch created)."""
    if not planned:
        return []
    with store.transaction() as conn:
        golden_ids = links.insert_golden(conn, target.entity, [p.record for p in planned])
        outbox_ids = outbox.add_outbox(
            conn,
            run_id,
            [
                PlannedWrite(target.system, target.entity, gid, "create", p.record, p.cause)
                for gid, p in zip(golden_ids, planned, strict=True)
            ],
        )
        # Remembered before sending: a rerun after a crash recognises the rows and the outbox
        # recovery decides whether the record reached the target.
        imports.remember_fingerprints(
            conn, target.entity, {fp: gid for gid, p in zip(golden_ids, planned, strict=True) for fp in p.fingerprints}
        )
    return _send(store, target, run_id, list(zip(outbox_ids, golden_ids, planned, strict=True)), also)


def _send(
    store: StateStore,
    target: TargetEntity,
    run_id: int | None,
    items: list[tuple[int, str, PlannedCreate]],
    also: InTransaction | None = None,
) -> list[CreateOutcome]:
    planned = {golden_id: plan for _, golden_id, plan in items}

    def also_created(conn: Connection, created: list[Created]) -> None:
        # The other systems of the entity get the new record too (the sync engine sends these
        # creates, looking the record up by key first): the target reports it as einklang's own
        # write, so no later read of changes would ever show it as new.
        outbox.add_outbox(
            conn,
            run_id,
            [
                PlannedWrite(
                    system,
                    target.entity,
                    done.item.golden_id,
                    "create",
                    planned[done.item.golden_id].record,
                    f"{done.item.cause} (created in {target.system})",
                )
                for done in created
                for system in target.other_systems()
            ],
        )
        if also is not None and created:
            also(conn)

    def also_refused(conn: Connection, item: CreateItem, _error: str) -> None:
        imports.forget_fingerprints(conn, target.entity, list(planned[item.golden_id].fingerprints))

    create_target = CreateTarget(
        store, target.connector, target.entity, target.mapping, run_id, on_created=also_created, on_refused=also_refused
    )
    results = send_creates(
        create_target,
        [
            CreateItem(
                gid,
                target.native_for_create(gid, plan.record),
                plan.cause,
                outbox_id=outbox_id,
                payload=plan.record,
                audit_new=json.dumps(
                    {"values": shown(plan.record), "fingerprints": list(plan.fingerprints)}, ensure_ascii=False
                ),
            )
            for outbox_id, gid, plan in items
        ],
    )
    outcomes = {
        done.item.golden_id: CreateOutcome(planned[done.item.golden_id], done.item.golden_id, done.record)
        for done in results.created
    }
    outcomes.update(
        {
            item.golden_id: CreateOutcome(planned[item.golden_id], item.golden_id, None, error)
            for item, error in results.refused
        }
    )
    return [outcomes[golden_id] for _, golden_id, _ in items]


def link_existing(
    store: StateStore,
    target: TargetEntity,
    run_id: int | None,
    native: NativeRecord,
    fingerprints: Sequence[str],
    cause: str,
    *,
    also: InTransaction | None = None,
) -> str:
    """Link incoming rows to an existing record without changing it; return its golden id."""
    canonical = target.canonical(native)
    with store.transaction() as conn:
        existing = links.links_by_native(conn, target.system, target.entity, [native.native_id]).get(native.native_id)
        if existing is not None:
            golden_id, new_golden = existing.golden_id, False
        else:
            golden_id = links.insert_golden(conn, target.entity, [canonical])[0]
            new_golden = True
            links.insert_links(
                conn,
                target.entity,
                target.system,
                [(golden_id, native.native_id, native.version, record_hash(canonical))],
            )
        imports.remember_fingerprints(conn, target.entity, dict.fromkeys(fingerprints, golden_id))
        journal.audit(
            conn,
            run_id,
            [
                {
                    "system": target.system,
                    "entity": target.entity,
                    "golden_id": golden_id,
                    "native_id": native.native_id,
                    "op": "link",
                    "new": {"fingerprints": list(fingerprints), "new_golden": new_golden},
                    "cause": cause,
                }
            ],
        )
        if also is not None:
            also(conn)
    return golden_id


def update_record(
    store: StateStore,
    target: TargetEntity,
    run_id: int | None,
    native_id: str,
    changes: CanonicalRecord,
    expected_version: str | None,
    fingerprints: Sequence[str],
    cause: str,
    *,
    also: InTransaction | None = None,
) -> NativeRecord:
    """Write ``changes`` (canonical) to one record, conditional on its version; link and audit it.

    Raises StaleVersion when the record changed after ``expected_version`` was seen.
    """
    current = target.connector.get(target.entity, [native_id]).get(native_id)
    before = target.canonical(current) if current is not None else {}
    patch = target.mapping.to_native({**before, **changes}, only=list(changes))
    updated = target.connector.update(target.entity, native_id, patch, expected_version)
    after = target.canonical(updated)
    with store.transaction() as conn:
        existing = links.links_by_native(conn, target.system, target.entity, [native_id]).get(native_id)
        if existing is None:
            golden_id = links.insert_golden(conn, target.entity, [after])[0]
            links.insert_links(
                conn, target.entity, target.system, [(golden_id, native_id, updated.version, record_hash(after))]
            )
            new_golden = True
        else:
            golden_id, new_golden = existing.golden_id, False
            loaded = links.load_golden(conn, golden_id)
            # fields the target does not map keep their agreed values
            links.save_golden(conn, golden_id, {**(loaded[0] if loaded else {}), **after})
            links.save_link(conn, target.entity, target.system, native_id, updated.version, after, existing.tolerated)
            # The other linked systems get the change too (the sync engine sends these updates):
            # the target reports it as einklang's own write, so no read of changes would show it.
            writes = []
            for system, link in links.links_of_golden(conn, golden_id).items():
                if system == target.system:
                    continue
                fields = set(target.context.mapping(system).writable_fields())
                payload = {name: after.get(name) for name in changes if name in fields}
                if payload:
                    writes.append(
                        PlannedWrite(
                            system,
                            target.entity,
                            golden_id,
                            "update",
                            payload,
                            f"{cause} (changed in {target.system})",
                            link.native_id,
                            link.version,
                        )
                    )
            outbox.add_outbox(conn, run_id, writes)
        imports.remember_fingerprints(conn, target.entity, dict.fromkeys(fingerprints, golden_id))
        journal.audit(
            conn,
            run_id,
            [
                {
                    "system": target.system,
                    "entity": target.entity,
                    "golden_id": golden_id,
                    "native_id": native_id,
                    "op": "update",
                    "old": {"values": {name: display(before.get(name)) for name in changes}},
                    "new": {
                        "values": {name: display(after.get(name)) for name in changes},
                        "fingerprints": list(fingerprints),
                        "new_golden": new_golden,
                    },
                    "cause": cause,
                }
            ],
        )
        if also is not None:
            also(conn)
    return updated

"""Writing imported records into a system the way the initial load does: outbox first, then link.

Every create is planned in the outbox (with its golden record) before it is sent and linked
right after, so an interrupted import that is run again creates nothing twice
(:func:`einklang.sync.recovery.recover_pending_creates` finds what was sent). Every write is
audited with the run id; the audit entries carry what :mod:`einklang.importer.undo` needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from einklang.config import LoadedConfig
from einklang.connectors.base import Connector, NativeRecord, RecordRejected
from einklang.importer import import_state
from einklang.mapping import EntityMapping
from einklang.model import CanonicalRecord, display, record_hash
from einklang.store.state import StateStore
from einklang.sync import state_ops as ops
from einklang.sync.recovery import recover_pending_creates


@dataclass
class TargetEntity:
    """One entity of the system an import writes to."""

    config: LoadedConfig
    connector: Connector
    entity: str
    mapping: EntityMapping = field(init=False)
    correlation_field: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.mapping = self.config.mapping(self.entity, self.connector.system)
        self.correlation_field = self.connector.capabilities(self.entity).correlation_field

    @property
    def system(self) -> str:
        return self.connector.system

    @property
    def fields(self) -> tuple[str, ...]:
        return self.mapping.canonical_fields

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
        native = self.mapping.to_native(record)
        if self.correlation_field:
            native[self.correlation_field] = golden_id
        return native


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
    keys = tuple(target.config.entity(target.entity).keys)
    recovery = recover_pending_creates(store, target.connector, target.mapping, target.entity, keys, run_id)
    for entry in recovery.to_create:
        planned = PlannedCreate(entry["payload"], entry["cause"])
        _send(store, target, run_id, [(int(entry["id"]), str(entry["golden_id"]), planned)])
    return recovery.linked + len(recovery.to_create)


def create_records(
    store: StateStore, target: TargetEntity, run_id: int | None, planned: Sequence[PlannedCreate],
) -> list[CreateOutcome]:
    if not planned:
        return []
    with store.transaction() as conn:
        golden_ids = store.insert_golden(conn, target.entity, [p.record for p in planned])
        outbox_ids = store.add_outbox(conn, run_id, [
            {"system": target.system, "entity": target.entity, "golden_id": gid, "op": "create",
             "payload": p.record, "cause": p.cause}
            for gid, p in zip(golden_ids, planned, strict=True)])
        # Remembered before sending: a rerun after a crash recognises the rows and the outbox
        # recovery decides whether the record reached the target.
        import_state.remember_fingerprints(conn, target.entity, {
            fp: gid for gid, p in zip(golden_ids, planned, strict=True) for fp in p.fingerprints})
    return _send(store, target, run_id, list(zip(outbox_ids, golden_ids, planned, strict=True)))


def _send(store: StateStore, target: TargetEntity, run_id: int | None,
          items: list[tuple[int, str, PlannedCreate]]) -> list[CreateOutcome]:
    natives = [target.native_for_create(gid, p.record) for _, gid, p in items]
    try:
        created = target.connector.create(target.entity, natives)
    except RecordRejected as exc:
        if len(items) == 1:
            return [_failed(store, target, run_id, items[0], str(exc))]
        # isolate the record the target refuses; the others still go in
        return [outcome for item in items for outcome in _send(store, target, run_id, [item])]
    with store.transaction() as conn:
        store.insert_links(conn, target.entity, target.system, [
            (gid, native.native_id, native.version, record_hash(target.canonical(native)))
            for (_, gid, _), native in zip(items, created, strict=True)])
        for (outbox_id, _, _), native in zip(items, created, strict=True):
            store.mark_outbox(conn, [outbox_id], "done", native_id=native.native_id)
        store.audit(conn, run_id, [
            {"system": target.system, "entity": target.entity, "golden_id": gid, "native_id": native.native_id,
             "op": "create", "new": {"values": shown(p.record), "fingerprints": list(p.fingerprints)},
             "cause": p.cause}
            for (_, gid, p), native in zip(items, created, strict=True)])
        # The other systems of the entity get the new record too (the sync engine sends these
        # creates, looking the record up by key first): the target reports it as einklang's own
        # write, so no later read of changes would ever show it as new.
        store.add_outbox(conn, run_id, [
            {"system": system, "entity": target.entity, "golden_id": gid, "op": "create", "payload": p.record,
             "cause": f"{p.cause} (created in {target.system})"}
            for _, gid, p in items for system in _other_systems(target)])
    return [CreateOutcome(p, gid, native) for (_, gid, p), native in zip(items, created, strict=True)]


def _other_systems(target: TargetEntity) -> list[str]:
    create_in = target.config.entity(target.entity).sync.create_in
    return [system for system in target.config.systems_of(target.entity)
            if system != target.system and (create_in is None or system in create_in)]


def _failed(store: StateStore, target: TargetEntity, run_id: int | None,
            item: tuple[int, str, PlannedCreate], error: str) -> CreateOutcome:
    outbox_id, golden_id, planned = item
    with store.transaction() as conn:
        store.mark_outbox(conn, [outbox_id], "failed", error=error)
        store.add_problems(conn, run_id, [{"kind": "rejected", "system": target.system, "entity": target.entity,
                                           "golden_id": golden_id, "message": error}])
        import_state.forget_fingerprints(conn, target.entity, list(planned.fingerprints))
    return CreateOutcome(planned, golden_id, None, error)


def link_existing(
    store: StateStore, target: TargetEntity, run_id: int | None, native: NativeRecord,
    fingerprints: Sequence[str], cause: str,
) -> str:
    """Link incoming rows to an existing record without changing it; return its golden id."""
    existing = store.links_for_natives(target.system, target.entity, [native.native_id]).get(native.native_id)
    canonical = target.canonical(native)
    with store.transaction() as conn:
        if existing is not None:
            golden_id, new_golden = existing.golden_id, False
        else:
            golden_id = store.insert_golden(conn, target.entity, [canonical])[0]
            new_golden = True
            store.insert_links(conn, target.entity, target.system,
                               [(golden_id, native.native_id, native.version, record_hash(canonical))])
        import_state.remember_fingerprints(conn, target.entity, dict.fromkeys(fingerprints, golden_id))
        store.audit(conn, run_id, [{
            "system": target.system, "entity": target.entity, "golden_id": golden_id,
            "native_id": native.native_id, "op": "link",
            "new": {"fingerprints": list(fingerprints), "new_golden": new_golden}, "cause": cause}])
    return golden_id


def update_record(
    store: StateStore, target: TargetEntity, run_id: int | None, native_id: str, changes: CanonicalRecord,
    expected_version: str | None, fingerprints: Sequence[str], cause: str,
) -> NativeRecord:
    """Write ``changes`` (canonical) to one record, conditional on its version; link and audit it.

    Raises StaleVersion when the record changed after ``expected_version`` was seen.
    """
    current = target.connector.get(target.entity, [native_id]).get(native_id)
    before = target.canonical(current) if current is not None else {}
    patch = target.mapping.to_native({**before, **changes}, only=list(changes))
    updated = target.connector.update(target.entity, native_id, patch, expected_version)
    after = target.canonical(updated)
    existing = store.links_for_natives(target.system, target.entity, [native_id]).get(native_id)
    with store.transaction() as conn:
        if existing is None:
            golden_id = store.insert_golden(conn, target.entity, [after])[0]
            store.insert_links(conn, target.entity, target.system,
                               [(golden_id, native_id, updated.version, record_hash(after))])
            new_golden = True
        else:
            golden_id, new_golden = existing.golden_id, False
            loaded = ops.load_golden(conn, golden_id)
            # fields the target does not map keep their agreed values
            ops.save_golden(conn, golden_id, {**(loaded[0] if loaded else {}), **after})
            store.update_link(conn, target.system, target.entity, native_id, updated.version, record_hash(after))
            # The other linked systems get the change too (the sync engine sends these updates):
            # the target reports it as einklang's own write, so no read of changes would show it.
            for system, link in ops.links_of_golden(conn, golden_id).items():
                if system == target.system:
                    continue
                fields = set(target.config.mapping(target.entity, system).writable_fields())
                payload = {name: after.get(name) for name in changes if name in fields}
                if payload:
                    ops.add_outbox(conn, run_id, target.entity, system, golden_id, link.native_id, "update",
                                   payload, f"{cause} (changed in {target.system})", link.version)
        import_state.remember_fingerprints(conn, target.entity, dict.fromkeys(fingerprints, golden_id))
        store.audit(conn, run_id, [{
            "system": target.system, "entity": target.entity, "golden_id": golden_id, "native_id": native_id,
            "op": "update",
            "old": {"values": {name: display(before.get(name)) for name in changes}},
            "new": {"values": {name: display(after.get(name)) for name in changes},
                    "fingerprints": list(fingerprints), "new_golden": new_golden},
            "cause": cause}])
    return updated

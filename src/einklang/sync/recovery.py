"""Finishing creates that were sent but not linked (I2: a crash never leads to a second create).

A create is written to the outbox before it is sent. If the process dies before the link is
stored, the outbox entry is still pending. Before anything new is sent, each such entry is
looked up in the target, first by the correlation field (einklang's golden id written into
the record), then by the entity's key fields; a unique hit is linked instead of created again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from einklang.connectors.base import Connector, NativeRecord
from einklang.mapping import EntityMapping
from einklang.model import record_hash
from einklang.store import journal, links, outbox
from einklang.store.rows import OutboxEntry
from einklang.store.state import StateStore


@dataclass
class RecoveryReport:
    linked: int = 0
    to_create: list[OutboxEntry] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)


def find_created(
    connector: Connector,
    mapping: EntityMapping,
    entity: str,
    golden_id: str,
    payload: Mapping[str, Any],
    keys: tuple[str, ...],
) -> list[NativeRecord]:
    correlation = connector.capabilities(entity).correlation_field
    if correlation:
        found = connector.find(entity, {correlation: golden_id})
        if found:
            return found
    key_values = {key: payload.get(key) for key in keys}
    if keys and all(value is not None for value in key_values.values()):
        criteria = mapping.to_native(key_values, only=keys)
        if criteria and all(value is not None for value in criteria.values()):
            return connector.find(entity, criteria)
    return []


def recover_pending_creates(
    store: StateStore,
    connector: Connector,
    mapping: EntityMapping,
    entity: str,
    keys: tuple[str, ...],
    run_id: int | None,
) -> RecoveryReport:
    """Link what an interrupted run created; return the entries that still need a create."""
    report = RecoveryReport()
    system = connector.system
    outbox.expand_create_batches(store, system, entity)
    last_id = 0
    while True:
        with store.read() as conn:
            pending = outbox.pending_outbox(conn, system, entity, ("create",), limit=500, after_id=last_id)
        if not pending:
            return report
        last_id = pending[-1].id
        for entry in pending:
            with store.read() as conn:
                existing = links.links_of_golden(conn, entry.golden_id)
                golden = links.golden_entity_status(conn, entry.golden_id)
            if system in existing:
                with store.transaction() as conn:
                    outbox.finish_outbox(conn, entry.id, "done", native_id=existing[system].native_id)
                continue
            if golden is None or golden[1] != "active":
                with store.transaction() as conn:
                    outbox.finish_outbox(conn, entry.id, "superseded", "golden record no longer active")
                continue
            found = find_created(connector, mapping, entity, entry.golden_id, entry.payload, keys)
            with store.read() as conn:
                linked_elsewhere = links.links_by_native(conn, system, entity, [record.native_id for record in found])
            if len(found) == 1 and not linked_elsewhere:
                record = found[0]
                canonical, _ = mapping.to_canonical(record.fields)
                with store.transaction() as conn:
                    links.insert_links(
                        conn,
                        entity,
                        system,
                        [(entry.golden_id, record.native_id, record.version, record_hash(canonical))],
                    )
                    outbox.finish_outbox(conn, entry.id, "done", native_id=record.native_id)
                    journal.audit(
                        conn,
                        run_id,
                        [
                            {
                                "system": system,
                                "entity": entity,
                                "golden_id": entry.golden_id,
                                "native_id": record.native_id,
                                "op": "link",
                                "cause": "recovered: record created by an interrupted run, found again and linked",
                            }
                        ],
                    )
                report.linked += 1
            elif found:
                ids = ", ".join(r.native_id for r in found[:5])
                taken = f", {len(linked_elsewhere)} linked to other golden records" if linked_elsewhere else ""
                message = (
                    f"interrupted create matches {len(found)} record(s) ({ids}){taken}; not linked, not "
                    "created (possible duplicate)"
                )
                with store.transaction() as conn:
                    outbox.finish_outbox(conn, entry.id, "failed", message)
                    journal.add_problems(
                        conn,
                        run_id,
                        [
                            {
                                "kind": "ambiguous_key",
                                "system": system,
                                "entity": entity,
                                "golden_id": entry.golden_id,
                                "message": message,
                            }
                        ],
                    )
                report.ambiguous.append(entry.golden_id)
            else:
                report.to_create.append(entry)

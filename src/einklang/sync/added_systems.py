"""The first sync after a system was added to an entity fills it, as `einklang load` would.

A system is *added later* for an entity when einklang already holds golden records of the
entity, the system has never been read for it (no cursor) and some of those records have no
link there (``einklang status``: "configured, not loaded yet"). Capturing such a system finds
nothing to do for the existing records (an empty address book has no changes), so before the
capture the cycle runs the initial load's steps for them (:func:`~einklang.sync.load_steps.
complete_linked`): the target is read once into a key index, a record with the same key is
linked (and what differs planned as updates), the rest is created from the agreed values.

Crash safety is the load's: every create is planned in the outbox before it is sent; the
creates of a fill that died are pending there and are sent by the sync like any planned
create, each looked up in the target first (correlation id, then keys), never sent twice. A
golden record with a write ever planned for the system is the sync's business and is not
filled again (a create that failed stays failed, listed by `einklang status`). The system's
cursor is set only when a fill finished, so the next cycle resumes one that died.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from einklang.connectors.base import ConnectorError, NativeRecord, SystemUnavailable
from einklang.context import EntityContext
from einklang.store import changes, links
from einklang.store import schema as t
from einklang.store.rows import Link

if TYPE_CHECKING:
    from einklang.sync.cycle import Cycle
    from einklang.sync.report import EntityReport

FILL_BATCH = 1000


def unfilled(conn: Connection, entity: str, system: str) -> list[str]:
    """Active golden records with no link in ``system`` and no write ever planned for it there.

    A record whose create the sync planned (sent, waiting or failed) is the sync's business:
    filling it again would send a second create.
    """
    planned = {
        str(gid)
        for (gid,) in conn.execute(
            sa.select(t.outbox.c.golden_id).where(t.outbox.c.system == system, t.outbox.c.entity == entity).distinct()
        )
    }
    return [gid for gid in links.golden_bases_unlinked_in(conn, entity, system) if gid not in planned]


def systems_to_fill(cycle: Cycle, ctx: EntityContext) -> list[str]:
    """The entity's reachable systems never read for it that lack links to existing golden records."""
    systems = cycle.systems(ctx)
    with cycle.store.read() as conn:
        if not links.has_golden(conn, ctx.name):
            return []  # a new installation: the first sync links and creates as usual
        # a system that receives no new records (sync.create_in) is not filled either
        unread = [s for s in systems if ctx.creates_in(s) and not changes.has_cursor(conn, s, ctx.name)]
        return [s for s in unread if unfilled(conn, ctx.name, s)]


def fill_added_systems(cycle: Cycle, ctx: EntityContext, report: EntityReport) -> None:
    """Fill each system added to the entity later (see the module's docstring); a dry run only counts."""
    for target in systems_to_fill(cycle, ctx):
        if not cycle.breakers.allows(target):
            report.unavailable.setdefault(target, cycle.breakers.down_now.get(target) or "circuit open")
            continue
        try:
            _fill(cycle, ctx, target, report)
        except SystemUnavailable as exc:
            report.unavailable[target] = str(exc)
        except ConnectorError as exc:
            report.failed += 1
            report.held_back.append(f"{target}: filling it (a system added later) failed: {exc}")


def _fill(cycle: Cycle, ctx: EntityContext, target: str, report: EntityReport) -> None:
    from einklang.sync.initial_load import InitialLoad
    from einklang.sync.load_steps import complete_linked

    store, entity = cycle.store, ctx.name
    target_connector = cycle.connectors[target]
    sources = [s for s in cycle.systems(ctx) if s != target]
    loads: dict[str, InitialLoad] = {}

    def load_from(source: str) -> InitialLoad:
        load = loads.get(source)
        if load is None:
            load = loads[source] = InitialLoad(
                cycle.config, store, entity, cycle.connectors[source], target_connector, dry_run=cycle.dry_run
            )
            load._cause = f"sync: {target} added to {entity} later, filled from {source}"
            load.report.run_id = None if cycle.dry_run else cycle.ensure_run()
        return load

    if not sources:
        return
    cursor: Any = None if cycle.dry_run else target_connector.current_cursor(entity)
    first = load_from(sources[0])
    if not cycle.dry_run:
        first._finish_interrupted_creates()  # a fill that died: what it sent is linked, not sent again
    key_index = first._target_key_index()
    with store.read() as conn:
        pending = unfilled(conn, entity, target)
    for start in range(0, len(pending), FILL_BATCH):
        batch = pending[start : start + FILL_BATCH]
        with store.read() as conn:
            linked = links.links_of_goldens(conn, batch)
        by_source: dict[str, list[tuple[NativeRecord, Link]]] = {}
        for gid in batch:
            held = linked.get(gid, {})
            source = next((s for s in sources if s in held), None)
            if source is None:
                continue  # linked in no system this cycle reaches: nothing names it yet
            link = held[source]
            by_source.setdefault(source, []).append((NativeRecord(link.native_id, link.version, {}), link))
        for source, pairs in by_source.items():
            complete_linked(load_from(source), pairs, key_index)
    done = [load.report for load in loads.values()]
    created, linked_count = sum(r.created for r in done), sum(r.linked for r in done)
    report.created += 0 if cycle.dry_run else created
    report.linked += 0 if cycle.dry_run else linked_count
    report.creates_planned += created if cycle.dry_run else 0
    report.waiting += sum(r.waiting for r in done)
    report.failed += sum(r.failed for r in done)
    verb = "would fill" if cycle.dry_run else "filled"
    report.filled.append(
        f"{target}: added to {entity} later; {verb} from {', '.join(loads) or '-'}: "
        f"{created} created, {linked_count} linked by key"
    )
    for load in loads.values():
        for issue in load.report.skips + load.report.failures:
            report.held_back.append(
                f"{target}: not filled with {load.source.system} record {issue.native_id}: {issue.reason}"
            )
    if not cycle.dry_run and key_index.empty:
        # an empty target holds nothing but what the fill created: read it from here on; a
        # target with records of its own is read from the start by this cycle's capture, so
        # the records the fill did not link reach the other systems as new ones
        with cycle.write() as conn:
            changes.set_cursor(conn, target, entity, cursor)

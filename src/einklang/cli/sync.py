"""Commands: sync, conflicts (list/show/resolve), log."""

from __future__ import annotations

import signal
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated, Any

import typer

from einklang.cli._common import (
    EXIT_ATTENTION,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNREACHABLE,
    CliError,
    ConfigOption,
    JsonOption,
    LeaseSeconds,
    Partitions,
    cli_errors,
    emit_json,
    lit,
    load,
    render_list,
    render_table,
    say,
    store_for,
    writing,
)
from einklang.cli.status import keys_of, record_text
from einklang.cli.wording import change_text, cycle_entity_text, resolution_text

if TYPE_CHECKING:
    from einklang.config import LoadedConfig
    from einklang.store.reports import RecordName
    from einklang.store.rows import ConflictRow
    from einklang.store.state import StateStore
    from einklang.sync.engine import CycleReport
    from einklang.sync.workers import WorkerOptions


conflicts_app = typer.Typer(
    help="Fields held because they changed differently in two systems.", invoke_without_command=True
)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
    app.command("log")(log_command)
    app.add_typer(conflicts_app, name="conflicts")


class _Stop:
    """SIGINT/SIGTERM ask for a stop after the current cycle instead of killing it midway."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, _signum: int, _frame: Any) -> None:
        self.requested = True


def sync_command(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and stop (default).")] = False,
    every: Annotated[
        float | None, typer.Option("--every", help="Run a cycle every SECONDS until SIGINT/SIGTERM.", metavar="SECONDS")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing anywhere.")] = False,
    confirm_deletes: Annotated[
        bool, typer.Option("--confirm-deletes", help="Let this run exceed the delete guard.")
    ] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for another sync to finish.")] = 5.0,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker",
            help="With --every on a PostgreSQL state store: one of several sync processes sharing "
            "the entities by leases (docs/scale.md).",
        ),
    ] = False,
    lease: LeaseSeconds = 30.0,
    partitions: Partitions = 1,
    as_json: JsonOption = False,
) -> None:
    """Run sync cycles: read changes, merge them, write them to the other systems."""
    from einklang.sync.engine import EngineOptions, SyncEngine
    from einklang.systems import open_connector

    with cli_errors(as_json):
        if once and every is not None:
            raise CliError("give either --once or --every, not both", 2)
        loaded = load(config)
        if partitions > 1 and not worker:
            raise CliError("--partitions is for several sync workers: give --worker too", 2)
        if worker:
            from einklang.sync.workers import WorkerOptions

            _run_worker(loaded, every, WorkerOptions(every or 0, lease, partitions), confirm_deletes, dry_run, as_json)
            return
        stop = _Stop()
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with ExitStack() as stack:
                # a dry run holds the lock too: its rolled-back transaction would block other writers
                store = stack.enter_context(writing(loaded, "sync --dry-run" if dry_run else "sync", wait=wait))
                connectors = {name: stack.enter_context(open_connector(loaded, name)) for name in loaded.model.systems}
                engine = SyncEngine(loaded, store, connectors, options=EngineOptions(confirm_deletes=confirm_deletes))
                reports: list[dict[str, Any]] = []
                while True:
                    started = time.monotonic()
                    report = engine.run_cycle(dry_run=dry_run)
                    if as_json and every is None:
                        reports.append(report.as_dict())
                    elif as_json:
                        emit_json({"ok": True, "cycle": report.as_dict()})
                    else:
                        _print_cycle(
                            report,
                            verbose=every is None or report.busy,
                            names=_plan_names(store, loaded, report) if report.dry_run else {},
                        )
                    if every is None or stop.requested:
                        break
                    # a cycle that found work runs again at once: what it wrote is read back as
                    # echoes, and changes that arrived meanwhile wait no full interval (issue 14)
                    while not report.progressed and not stop.requested and time.monotonic() - started < every:
                        time.sleep(min(0.1, every))
                    if stop.requested:
                        break
                code = _exit_code(report, store) if every is None else EXIT_OK
                if as_json and every is None:
                    emit_json({"ok": code == EXIT_OK, "exit_code": code, **reports[0]})
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if code != EXIT_OK:
            raise typer.Exit(code)


def _run_worker(
    loaded: LoadedConfig,
    every: float | None,
    options: WorkerOptions,
    confirm_deletes: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """``sync --every N --worker``: sync the entities (or partitions) this process leases until
    SIGINT/SIGTERM."""
    from einklang.sync.engine import EngineOptions, SyncEngine
    from einklang.sync.workers import SyncWorker
    from einklang.systems import open_connector

    if every is None or dry_run:
        raise CliError("--worker runs continuously: give --every SECONDS (and no --dry-run)", 2)
    if options.lease_seconds < 1:
        raise CliError("--lease must be at least 1 second", 2)
    store = store_for(loaded)
    if store.engine.dialect.name != "postgresql":
        raise CliError(
            "several sync workers need a PostgreSQL state store (state: postgresql+psycopg://...); "
            "on SQLite run one `einklang sync --every N`",
            2,
        )
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def report_cycle(entity: str, report: CycleReport) -> None:
        if as_json:
            emit_json({"ok": True, "entity": entity, "cycle": report.as_dict()})
        else:
            _print_cycle(report, verbose=report.busy)

    try:
        with ExitStack() as stack:
            connectors = {name: stack.enter_context(open_connector(loaded, name)) for name in loaded.model.systems}
            engine = SyncEngine(loaded, store, connectors, options=EngineOptions(confirm_deletes=confirm_deletes))
            entities = list(loaded.model.entities)
            SyncWorker(
                store, engine, entities, options, should_stop=lambda: stop.requested, on_cycle=report_cycle
            ).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_code(report: CycleReport, store: StateStore) -> int:
    """What a cron job or monitor needs to know of one cycle, as the exit code (docs/security.md)."""
    from einklang.store.conflicts import count_open_conflicts

    if any(entity.unavailable for entity in report.entities):
        return EXIT_UNREACHABLE
    if any(entity.failed for entity in report.entities):
        return EXIT_FAILED
    with store.read() as conn:
        open_conflicts = sum(count_open_conflicts(conn, entity.entity) for entity in report.entities)
    if open_conflicts or any(entity.held_back for entity in report.entities):
        return EXIT_ATTENTION
    return EXIT_OK


def _plan_names(store: StateStore, loaded: LoadedConfig, report: CycleReport) -> dict[str, RecordName]:
    """Names of the records a dry run's plan touches (the plan holds golden ids)."""
    from einklang.store.reports import record_names

    golden_ids = [item.get("golden_id") for entity in report.entities for item in entity.plan]
    with store.engine.connect() as conn:
        return record_names(conn, golden_ids, keys_of(loaded))


def _print_cycle(report: CycleReport, verbose: bool, names: dict[str, RecordName] | None = None) -> None:
    if not verbose:
        return
    prefix = "dry run: " if report.dry_run else ""
    for entity in report.entities:
        say(f"{prefix}{lit(entity.entity)}: {cycle_entity_text(entity.as_dict())}")
        for system, reason in entity.unavailable.items():
            say(f"  [yellow]{lit(system)} unavailable[/]: {lit(reason)} (its writes wait)")
        for message in entity.filled:
            say(f"  {lit(message)}")
        for message in entity.held_back:
            say(f"  [red]{lit(message)}[/]")
        if report.dry_run and entity.plan:
            render_table(
                f"Plan for {entity.entity}",
                ["action", "system", "record", "values / reason"],
                [
                    [
                        item["action"],
                        item.get("system", ""),
                        _plan_record(item, (names or {}).get(item.get("golden_id") or "")),
                        _plan_text(item),
                    ]
                    for item in entity.plan
                ],
            )
    say(f"cycle took {report.seconds:.3f}s")


def _plan_record(item: dict[str, Any], name: RecordName | None) -> str:
    native = item.get("native_id") or item.get("source_id")
    if name is not None:
        return record_text(name, name.golden_id, sep="\n")
    return str(native or item.get("golden_id") or "")


def _plan_text(item: dict[str, Any]) -> str:
    values = item.get("values")
    if isinstance(values, dict):
        return "\n".join(f"{name}: {value}" for name, value in values.items())
    return str(values or item.get("reason") or item.get("cause") or "")


# ---------------------------------------------------------------------------- conflicts
def _conflict_dict(conflict: ConflictRow, name: RecordName | None) -> dict[str, Any]:
    from einklang.model import display

    return {
        "id": conflict.id,
        "entity": conflict.entity,
        "golden_id": conflict.golden_id,
        "record": name.as_dict() if name else None,
        "field": conflict.field,
        "base": display(conflict.base),
        "values": {s: display(v) for s, v in conflict.values.items()},
        "status": conflict.status,
        "reason": conflict.reason,
        "resolution": conflict.resolution,
        "resolution_text": resolution_text(conflict.resolution, conflict.status) or None,
        "created_at": conflict.created_at.isoformat(timespec="seconds"),
        "resolved_at": conflict.resolved_at.isoformat(timespec="seconds") if conflict.resolved_at else None,
    }


@conflicts_app.callback()
def conflicts_default(ctx: typer.Context, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List open conflicts (same as `conflicts list`)."""
    if ctx.invoked_subcommand is None:
        conflicts_list(config=config, as_json=as_json)


@conflicts_app.command("list")
def conflicts_list(
    config: ConfigOption = None,
    show_all: Annotated[bool, typer.Option("--all", help="Include decided and resolved conflicts.")] = False,
    entity: Annotated[str | None, typer.Option("--entity", help="Only this entity.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Open conflicts, each with the base value and every system's value."""
    from einklang.model import display
    from einklang.store import conflicts as ops
    from einklang.store.reports import record_names

    with cli_errors(as_json):
        loaded = load(config)
        store = store_for(loaded)
        with store.engine.connect() as conn:
            rows = ops.list_conflicts(conn, None if show_all else "open", entity)
            names = record_names(conn, (c.golden_id for c in rows), keys_of(loaded))
        if as_json:
            emit_json({"ok": True, "conflicts": [_conflict_dict(c, names.get(c.golden_id)) for c in rows]})
            return
        if not rows:
            say("no open conflicts" if not show_all else "no conflicts")
            return
        items = []
        for c in rows:
            now = ", ".join(f"{system} {_quoted(display(value))}" for system, value in c.values.items())
            details = [f"{c.field}: last agreed {_quoted(display(c.base))}; now {now}"]
            if c.resolution:
                details.append(f"decision: {resolution_text(c.resolution, c.status)}")
            items.append(
                (f"#{c.id} {c.status}  {c.entity} {record_text(names.get(c.golden_id), c.golden_id)}", details)
            )
        render_list("Conflicts (details: einklang conflicts show ID; decide: einklang conflicts resolve ID)", items)


@conflicts_app.command("show")
def conflicts_show(
    conflict_id: Annotated[int, typer.Argument(help="The conflict's id (from `einklang conflicts`).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One conflict with the base, each system's value and the reason it was held."""
    from einklang.model import display
    from einklang.store import conflicts as ops
    from einklang.store.reports import record_names

    with cli_errors(as_json):
        loaded = load(config)
        store = store_for(loaded)
        with store.engine.connect() as conn:
            conflict = ops.get_conflict(conn, conflict_id)
            names = record_names(conn, [conflict.golden_id] if conflict else [], keys_of(loaded))
        if conflict is None:
            raise CliError(f"no conflict {conflict_id}", EXIT_NOT_FOUND)
        name = names.get(conflict.golden_id)
        if as_json:
            emit_json({"ok": True, "conflict": _conflict_dict(conflict, name)})
            return
        say(
            f"conflict {conflict.id} ({conflict.status}): {lit(conflict.entity)} "
            f"{lit(name.label if name else conflict.golden_id)}, field {lit(conflict.field)}"
        )
        if name and name.ids:
            say(f"  record: {lit(name.ids)} (golden id {conflict.golden_id})")
        say(f"  last agreed value: {lit(_quoted(display(conflict.base)))}")
        for system, value in conflict.values.items():
            say(f"  now in {lit(system)}: {lit(_quoted(display(value)))}")
        if conflict.reason:
            say(f"  why it was held: {lit(conflict.reason)}")
        if conflict.resolution:
            say(f"  decision: {lit(resolution_text(conflict.resolution, conflict.status))}")
        if conflict.status == "open":
            say(f"decide with: einklang conflicts resolve {conflict.id} --take SYSTEM  (or --value VALUE)")


def _quoted(value: str) -> str:
    """A value in quotes, ``(empty)`` for none (plain text: escape it with ``lit`` for ``say``)."""
    return f'"{value}"' if value else "(empty)"


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: Annotated[int, typer.Argument(help="The conflict's id (from `einklang conflicts`).")],
    take: Annotated[str | None, typer.Option("--take", help="Keep this system's value.")] = None,
    value: Annotated[str | None, typer.Option("--value", help="Use this value everywhere.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide a conflict; the decision is applied (and audited) by the next sync cycle."""
    from einklang.decide.conflicts import Decision, DecisionError, decide

    with cli_errors(as_json):
        if (take is None) == (value is None):
            raise CliError("give exactly one of --take SYSTEM or --value VALUE", 2)
        loaded = load(config)
        store = store_for(loaded)
        try:
            with store.transaction() as conn:
                _, resolution = decide(conn, loaded, conflict_id, Decision(take=take, value=value), by="cli")
        except DecisionError as exc:
            raise CliError(str(exc), EXIT_NOT_FOUND if exc.kind == "not_found" else 2) from None
        if as_json:
            emit_json({"ok": True, "id": conflict_id, "resolution": resolution})
        else:
            say(f"conflict {conflict_id} decided ({lit(resolution_text(resolution, 'decided'))})")


# ---------------------------------------------------------------------------- log
def log_command(
    config: ConfigOption = None,
    entity: Annotated[str | None, typer.Option("--entity", help="Only this entity.")] = None,
    record: Annotated[
        str | None,
        typer.Option(
            "--record", help="Only this record: its id in any system (e.g. a customer number) or its golden id."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N entries.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The audit log: every write einklang made and every policy decision, with its cause."""
    from einklang.store.journal import audit_log
    from einklang.store.reports import find_records, record_names

    with cli_errors(as_json):
        loaded = load(config)
        store = store_for(loaded)
        with store.read() as conn:
            if record is None:
                found = audit_log(conn, entity=entity, limit=limit)
            else:
                golden_ids = find_records(conn, record, entity)
                if not golden_ids:
                    of_entity = f" of entity {entity!r}" if entity else ""
                    raise CliError(f"no record {record!r}{of_entity}", EXIT_NOT_FOUND)
                found = sorted(
                    (
                        e
                        for golden_id in golden_ids
                        for e in audit_log(conn, entity=entity, golden_id=golden_id, limit=limit)
                    ),
                    key=lambda e: -e.id,
                )[:limit]
        entries = [e.as_dict() for e in found]
        with store.engine.connect() as conn:
            names = record_names(conn, (e["golden_id"] for e in entries), keys_of(loaded))
        for entry in entries:
            name = names.get(entry["golden_id"]) if entry["golden_id"] else None
            entry["record"] = name.as_dict() if name else None
        if as_json:
            emit_json({"ok": True, "entries": entries})
            return
        if not entries:
            say("the audit log is empty")
            return
        items = []
        for e in entries:
            what = " ".join(part for part in (e["op"], e["system"] and f"in {e['system']}") if part)
            record_label = record_text(names.get(e["golden_id"] or ""), e["golden_id"], e["system"], e["native_id"])
            details = [line for line in change_text(e["old"], e["new"]).splitlines() if line]
            details.append(f"cause: {e['cause']}")
            items.append((f"{e['ts'].replace('T', ' ')}  {what}  {e['entity']} {record_label}", details))
        render_list("Audit log (newest first)", items)

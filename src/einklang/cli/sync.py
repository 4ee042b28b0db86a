"""Commands: sync, conflicts (list/show/resolve), log."""

from __future__ import annotations

import signal
import time
from contextlib import ExitStack
from typing import Annotated, Any

import typer

from einklang.cli._common import (
    CliError,
    ConfigOption,
    JsonOption,
    cli_errors,
    emit_json,
    load,
    render_table,
    say,
    store_for,
)
from einklang.model import coerce, display
from einklang.store import conflicts as ops
from einklang.store import journal
from einklang.store.lock import LockBusy, writer_lock
from einklang.store.rows import ConflictRow
from einklang.store.state import StateStore
from einklang.sync.engine import CycleReport, EngineOptions, SyncEngine
from einklang.systems import open_connector

conflicts_app = typer.Typer(help="Fields held because they changed differently in two systems.",
                            invoke_without_command=True)


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
    every: Annotated[float | None, typer.Option("--every", help="Run a cycle every SECONDS until "
                                                "SIGINT/SIGTERM.", metavar="SECONDS")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing anywhere.")] = False,
    confirm_deletes: Annotated[bool, typer.Option("--confirm-deletes",
                                                  help="Let this run exceed the delete guard.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for another sync to finish.")] = 5.0,
    as_json: JsonOption = False,
) -> None:
    """Run sync cycles: read changes, merge them, write them to the other systems."""
    with cli_errors(as_json):
        if once and every is not None:
            raise CliError("give either --once or --every, not both", 2)
        loaded = load(config)
        store = store_for(loaded)
        stop = _Stop()
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with ExitStack() as stack:
                _acquire(stack, store, wait, "sync --dry-run" if dry_run else "sync")
                connectors = {name: stack.enter_context(open_connector(loaded, name))
                              for name in loaded.model.systems}
                engine = SyncEngine(loaded, store, connectors,
                                    options=EngineOptions(confirm_deletes=confirm_deletes))
                reports: list[dict[str, Any]] = []
                while True:
                    started = time.monotonic()
                    report = engine.run_cycle(dry_run=dry_run)
                    if as_json and every is None:
                        reports.append(report.as_dict())
                    elif as_json:
                        emit_json({"ok": True, "cycle": report.as_dict()})
                    else:
                        _print_cycle(report, verbose=every is None or report.busy)
                    if every is None or stop.requested:
                        break
                    while not stop.requested and time.monotonic() - started < every:
                        time.sleep(min(0.1, every))
                    if stop.requested:
                        break
                if as_json and every is None:
                    emit_json({"ok": True, **reports[0]})
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _acquire(stack: ExitStack, store: StateStore, wait: float, purpose: str) -> None:
    """The writer lock, waiting up to ``wait`` seconds for another writer to finish."""
    deadline = time.monotonic() + wait
    while True:
        try:
            stack.enter_context(writer_lock(store, purpose))
            return
        except LockBusy as busy:
            if time.monotonic() >= deadline:
                raise CliError(f"{busy} (waited {wait:g} s)", 3) from None
        time.sleep(0.2)


def _print_cycle(report: CycleReport, verbose: bool) -> None:
    if not verbose:
        return
    prefix = "dry run: " if report.dry_run else ""
    for entity in report.entities:
        parts = [f"{entity.captured} change(s) read", f"{entity.applied} update(s)", f"{entity.created} create(s)",
                 f"{entity.deleted} delete(s)/archive(s)", f"{entity.linked} linked",
                 f"{entity.conflicts} new conflict(s)", f"{entity.violations} violation(s)"]
        if entity.failed:
            parts.append(f"{entity.failed} failed")
        if entity.resolved:
            parts.append(f"{entity.resolved} conflict decision(s) applied")
        say(f"{prefix}{entity.entity}: " + ", ".join(parts))
        for system, reason in entity.unavailable.items():
            say(f"  [yellow]{system} unavailable[/]: {reason} (its writes wait)")
        for message in entity.held_back:
            say(f"  [red]{message}[/]")
        if report.dry_run and entity.plan:
            render_table(f"Plan for {entity.entity}", ["action", "system", "record", "values / reason"], [
                [item["action"], item.get("system", ""), item.get("native_id") or item.get("source_id") or
                 item.get("golden_id", ""), item.get("values") or item.get("reason") or item.get("cause") or ""]
                for item in entity.plan])
    say(f"cycle took {report.seconds:.3f}s")


# ---------------------------------------------------------------------------- conflicts
def _conflict_dict(conflict: ConflictRow) -> dict[str, Any]:
    return {"id": conflict.id, "entity": conflict.entity, "golden_id": conflict.golden_id, "field": conflict.field,
            "base": display(conflict.base), "values": {s: display(v) for s, v in conflict.values.items()},
            "status": conflict.status, "reason": conflict.reason, "resolution": conflict.resolution,
            "created_at": conflict.created_at.isoformat(timespec="seconds"),
            "resolved_at": conflict.resolved_at.isoformat(timespec="seconds") if conflict.resolved_at else None}


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
    with cli_errors(as_json):
        store = store_for(load(config))
        with store.read() as conn:
            rows = ops.list_conflicts(conn, None if show_all else "open", entity)
        if as_json:
            emit_json({"ok": True, "conflicts": [_conflict_dict(c) for c in rows]})
            return
        if not rows:
            say("no open conflicts")
            return
        render_table("Conflicts", ["id", "entity", "record", "field", "base", "values", "status"], [
            [c.id, c.entity, c.golden_id[:8], c.field, display(c.base),
             ", ".join(f"{s}: {display(v)}" for s, v in c.values.items()), c.status] for c in rows])


@conflicts_app.command("show")
def conflicts_show(conflict_id: int, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """One conflict with the base, each system's value and the reason it was held."""
    with cli_errors(as_json):
        store = store_for(load(config))
        with store.read() as conn:
            conflict = ops.get_conflict(conn, conflict_id)
        if conflict is None:
            raise CliError(f"no conflict {conflict_id}", 4)
        data = _conflict_dict(conflict)
        if as_json:
            emit_json({"ok": True, "conflict": data})
            return
        say(f"conflict {conflict.id} ({conflict.status}): {conflict.entity} {conflict.golden_id}, "
            f"field {conflict.field}")
        say(f"  base (last agreed): {display(conflict.base)!r}")
        for system, value in conflict.values.items():
            say(f"  {system}: {display(value)!r}")
        if conflict.reason:
            say(f"  why: {conflict.reason}")
        if conflict.resolution:
            say(f"  resolution: {conflict.resolution}")
        if conflict.status == "open":
            say(f"resolve with: einklang conflicts resolve {conflict.id} --take SYSTEM  (or --value VALUE)")


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: int,
    take: Annotated[str | None, typer.Option("--take", help="Keep this system's value.")] = None,
    value: Annotated[str | None, typer.Option("--value", help="Use this value everywhere.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide a conflict; the decision is applied (and audited) by the next sync cycle."""
    with cli_errors(as_json):
        if (take is None) == (value is None):
            raise CliError("give exactly one of --take SYSTEM or --value VALUE", 2)
        loaded = load(config)
        store = store_for(loaded)
        with store.transaction() as conn:
            conflict = ops.get_conflict(conn, conflict_id)
            if conflict is None:
                raise CliError(f"no conflict {conflict_id}", 4)
            if conflict.status != "open":
                raise CliError(f"conflict {conflict_id} is already {conflict.status}", 2)
            if take is not None:
                if take not in conflict.values:
                    raise CliError(f"{take!r} is not part of this conflict (systems: "
                                   f"{', '.join(conflict.values)})", 2)
                resolution: dict[str, Any] = {"take": take}
            else:
                spec = loaded.entity_spec(conflict.entity).field(conflict.field)
                try:
                    checked = coerce(spec, value)
                except ValueError as exc:
                    raise CliError(f"{value!r} is not a valid {spec.type.value}: {exc}", 2) from None
                resolution = {"value": value, "canonical": display(checked)}
            resolution["by"] = "cli"
            ops.decide_conflict(conn, conflict_id, resolution)
        if as_json:
            emit_json({"ok": True, "id": conflict_id, "resolution": resolution})
        else:
            say(f"conflict {conflict_id} decided; the next `einklang sync` writes it to every system")


# ---------------------------------------------------------------------------- log
def log_command(
    config: ConfigOption = None,
    entity: Annotated[str | None, typer.Option("--entity", help="Only this entity.")] = None,
    record: Annotated[str | None, typer.Option("--record", help="Only this golden record id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N entries.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The audit log: every write einklang made and every policy decision, with its cause."""
    with cli_errors(as_json):
        store = store_for(load(config))
        with store.read() as conn:
            entries = [e.as_dict() for e in journal.audit_log(conn, entity=entity, golden_id=record, limit=limit)]
        if as_json:
            emit_json({"ok": True, "entries": entries})
            return
        if not entries:
            say("the audit log is empty")
            return
        render_table("Audit log", ["when", "op", "system", "entity", "record", "old", "new", "cause"], [
            [e["ts"], e["op"], e["system"] or "", e["entity"], (e["golden_id"] or "")[:8],
             _short(e["old"]), _short(e["new"]), e["cause"]] for e in entries])


def _short(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)

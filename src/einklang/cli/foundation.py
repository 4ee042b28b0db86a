"""Commands: init, config show, check, connectors, load, status."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated, Any

import typer
import yaml
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from einklang.cli._common import (
    CliError,
    ConfigOption,
    JsonOption,
    cli_errors,
    console,
    emit_json,
    load,
    render_table,
    say,
    store_for,
)
from einklang.connectors.base import installed_connectors
from einklang.masking import mask
from einklang.store import changes, conflicts, links, outbox
from einklang.store.state import StateStore
from einklang.sync.initial_load import DEFAULT_LOAD_BATCH, LoadReport, run_initial_load
from einklang.systems import open_connector

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("check")(check)
    app.command("connectors")(connectors)
    app.command("load")(load_command)
    app.command("status")(status)
    app.add_typer(config_app, name="config")


def init(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Create or upgrade the state store (Alembic migrations)."""
    with cli_errors(as_json):
        loaded = load(config)
        store = StateStore(loaded.state_url, allow_foreign_tables=loaded.model.state_shared_database)
        before, after = store.migrate()
        result = {"ok": True, "state": mask(loaded.state_url), "revision_before": before, "revision": after}
        if as_json:
            emit_json(result)
        elif before == after:
            say(f"state store {loaded.state_url} is up to date (schema {after})")
        else:
            say(f"state store {loaded.state_url} migrated from {before or 'empty'} to schema {after}")


@config_app.command("show")
def config_show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective configuration with secrets masked."""
    with cli_errors(as_json):
        loaded = load(config)
        data = loaded.masked()
        if as_json:
            emit_json({"ok": True, "path": str(loaded.path), "config": data})
        else:
            console.print(f"# {loaded.path}")
            console.print(mask(yaml.safe_dump(data, sort_keys=False, allow_unicode=True)), end="")


def check(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Connect to the state store and every system; report ok/failed per system with the reason."""
    with cli_errors(as_json):
        loaded = load(config)
        results: list[dict[str, Any]] = []
        started = time.perf_counter()
        try:
            store = StateStore(loaded.state_url, allow_foreign_tables=loaded.model.state_shared_database)
            results.append({"name": "state store", "kind": "state", "ok": True, "detail": store.check()})
        except Exception as exc:
            results.append({"name": "state store", "kind": "state", "ok": False, "detail": str(exc)})
        for name, system in loaded.model.systems.items():
            entry: dict[str, Any] = {"name": name, "kind": system.connector}
            try:
                with open_connector(loaded, name) as connector:
                    entry["detail"] = connector.check()
                entry["ok"] = True
            except Exception as exc:
                entry["ok"] = False
                entry["detail"] = str(exc)
            results.append(entry)
        all_ok = all(r["ok"] for r in results)
        if as_json:
            emit_json({"ok": all_ok, "checks": results, "seconds": round(time.perf_counter() - started, 3)})
        else:
            for r in results:
                mark = "[green]ok[/]    " if r["ok"] else "[red]failed[/]"
                console.print(f"{mark} {r['name']:<14} {r['kind']:<10} {mask(str(r['detail']))}")
        if not all_ok:
            raise typer.Exit(1)


def connectors(as_json: JsonOption = False) -> None:
    """List the installed connectors (entry point group einklang.connectors)."""
    with cli_errors(as_json):
        found = installed_connectors()
        rows = [
            {"name": name, "target": ep.value, "package": ep.dist.name if ep.dist else None}
            for name, ep in sorted(found.items())
        ]
        if as_json:
            emit_json({"ok": True, "connectors": rows})
        else:
            render_table(
                "Installed connectors",
                ["name", "implementation", "package"],
                [[r["name"], r["target"], r["package"]] for r in rows],
            )


def load_command(
    entity: Annotated[str, typer.Argument(help="Entity to load, e.g. company")],
    source: Annotated[str, typer.Option("--from", help="System to read from")],
    target: Annotated[str, typer.Option("--to", help="System to create the records in")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            max=100_000,
            help="Records read, planned and created per transaction (larger: fewer commits, more redone on a crash).",
        ),
    ] = DEFAULT_LOAD_BATCH,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            max=64,
            help="Processes that map and normalise pages (0: none). Default: one per core, for 20,000 records or more.",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Initial load: create ENTITY's records of one system in another and link each pair."""
    with cli_errors(as_json):
        loaded = load(config)
        loaded.entity(entity)
        for system in (source, target):
            loaded.system(system)
            if system not in loaded.systems_of(entity):
                raise CliError(f"entity {entity!r} is not mapped in system {system!r}", 2)
        store = store_for(loaded)
        with open_connector(loaded, source) as src, open_connector(loaded, target) as tgt:
            total = src.count(entity)
            if as_json:
                report = run_initial_load(
                    loaded, store, entity, src, tgt, dry_run=dry_run, batch_size=batch_size, workers=workers
                )
            else:
                with Progress(
                    TextColumn(f"[bold]{'planning' if dry_run else 'loading'} {entity}[/] {source} → {target}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"),
                    TimeElapsedColumn(),
                    TimeRemainingColumn(),
                    console=console,
                    transient=False,
                ) as progress:
                    task = progress.add_task("load", total=total, rate="")
                    started = time.perf_counter()

                    def advance(n: int) -> None:
                        progress.advance(task, n)
                        done = progress.tasks[0].completed
                        elapsed = max(time.perf_counter() - started, 1e-9)
                        progress.update(task, rate=f"{done / elapsed:,.0f} rec/s")

                    report = run_initial_load(
                        loaded,
                        store,
                        entity,
                        src,
                        tgt,
                        dry_run=dry_run,
                        batch_size=batch_size,
                        progress=advance,
                        workers=workers,
                    )
        _print_load_report(report, as_json)
        if report.aborted or report.failed:
            raise typer.Exit(1)


def _print_load_report(report: LoadReport, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": not report.aborted and not report.failed, **report.as_dict()})
        return
    verb = "would be " if report.dry_run else ""
    say(
        f"{report.read} read from {report.source}; {verb}created {report.created}, {verb}linked {report.linked}, "
        f"skipped {report.skipped}, failed {report.failed}"
        + (f", recovered {report.recovered} from an interrupted run" if report.recovered else "")
    )
    if not report.target_was_empty and (report.linked or (not report.dry_run and report.created)):
        say(f"{report.target} was not empty: existing records were matched by key first")
    if report.target_unlinked:
        say(
            f"{report.target_unlinked} record(s) only {report.target} has stay unlinked for now: the next "
            f"`einklang sync` treats them as new and brings them to {report.source} (unless create_in says otherwise)"
        )
    for title, issues in (
        ("failed", report.failures),
        ("skipped", report.skips),
        ("warnings", report.warnings),
    ):
        shown = [i for i in issues if not (title == "skipped" and i.reason == "already linked")]
        if shown:
            render_table(
                f"{title} ({len(shown)})",
                ["record", "field", "reason"],
                [[i.native_id, i.field or "", i.reason] for i in shown[:50]],
            )
            if len(shown) > 50:
                say(f"... and {len(shown) - 50} more (use --json for all)")
    already = sum(1 for i in report.skips if i.reason == "already linked")
    if already:
        say(f"{already} record(s) were already linked by an earlier run and were left alone")
    if report.dry_run and report.plan:
        say(f"plan: {len(report.plan)} action(s); nothing was changed (use --json for the full plan)")
    if report.aborted:
        say(f"[red]aborted:[/] {report.aborted}; run the same command again to continue")


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Per system and entity: linked records, cursor, pending outbox, open conflicts, last run."""
    with cli_errors(as_json), contextlib.ExitStack() as stack:
        loaded = load(config)
        store = store_for(loaded)
        entities: list[dict[str, Any]] = []
        conn = stack.enter_context(store.read())
        for entity in loaded.model.entities:
            last = store.last_run(entity)
            entry: dict[str, Any] = {
                "entity": entity,
                "golden_records": links.count_golden(conn, entity),
                "open_conflicts": conflicts.count_open_conflicts(conn, entity),
                "last_run": last,
                "systems": [],
            }
            for system in loaded.systems_of(entity):
                counts = outbox.outbox_counts(conn, system, entity)
                entry["systems"].append(
                    {
                        "system": system,
                        "linked": links.count_links(conn, system, entity),
                        "cursor": changes.get_cursor(conn, system, entity),
                        "outbox_pending": counts.get("pending", 0),
                        "outbox_failed": counts.get("failed", 0),
                    }
                )
            entities.append(entry)
        failed = [dict(f.__dict__) for f in outbox.failed_outbox(conn)]
        if as_json:
            emit_json({"ok": True, "state": mask(loaded.state_url), "entities": entities, "failed_writes": failed})
            return
        say(f"state store: {loaded.state_url}")
        rows = []
        for e in entities:
            for s in e["systems"]:
                rows.append(
                    [
                        e["entity"],
                        s["system"],
                        s["linked"],
                        _short(s["cursor"]),
                        s["outbox_pending"],
                        s["outbox_failed"],
                        e["open_conflicts"],
                        _run_text(e["last_run"]),
                    ]
                )
        render_table(
            "Status",
            ["entity", "system", "linked", "cursor", "pending", "failed", "conflicts", "last run"],
            rows,
        )
        if failed:
            render_table(
                "Isolated records (writes that failed for good; they block nothing else)",
                ["system", "entity", "op", "record", "error"],
                [
                    [f["system"], f["entity"], f["op"], f["native_id"] or f["golden_id"], f["last_error"]]
                    for f in failed
                ],
            )


def _short(value: Any, width: int = 32) -> str:
    if isinstance(value, dict):
        value = " ".join(str(v) for v in value.values() if v is not None)
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _run_text(run: dict[str, Any] | None) -> str:
    if not run:
        return "never"
    return f"#{run['id']} {run['kind']} {run['status']}"

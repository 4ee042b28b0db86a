"""``einklang load``: the initial load of one entity from one system into another."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from einklang.cli._common import (
    EXIT_ATTENTION,
    EXIT_FAILED,
    CliError,
    ConfigOption,
    JsonOption,
    cli_errors,
    console,
    emit_json,
    lit,
    load,
    render_table,
    say,
    writing,
)

if TYPE_CHECKING:
    from einklang.sync.initial_load import LoadReport

DEFAULT_LOAD_BATCH = 1000
"""Shown in ``--help`` without importing the sync engine; a test keeps it equal to the engine's."""


def register(app: typer.Typer) -> None:
    app.command("load")(load_command)
    app.command("relink")(relink_command)


def load_command(
    entity: Annotated[str, typer.Argument(help="Entity to load, e.g. company.")],
    source: Annotated[str, typer.Option("--from", help="System to read from.")],
    target: Annotated[str, typer.Option("--to", help="System to create the records in.")],
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
    _load(entity, source, target, dry_run, batch_size, workers, config, as_json, relink=False)


def relink_command(
    entity: Annotated[str, typer.Argument(help="Entity to relink, e.g. company.")],
    source: Annotated[str, typer.Option("--from", help="One system (its values stand in for held fields).")],
    target: Annotated[str, typer.Option("--to", help="The other system.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Link two systems' records by their keys again (a new or restored state store); create nothing.

    Where a pair's values differ, the field's leader wins if the sync policy names one; otherwise
    the field is held as a conflict for a person (`einklang conflicts`). Records without a
    counterpart stay unlinked and are treated as new by the next sync.
    """
    _load(entity, source, target, dry_run, DEFAULT_LOAD_BATCH, 0, config, as_json, relink=True)


def _load(
    entity: str,
    source: str,
    target: str,
    dry_run: bool,
    batch_size: int,
    workers: int | None,
    config: Path | None,
    as_json: bool,
    *,
    relink: bool,
) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from einklang.sync.initial_load import run_initial_load
    from einklang.systems import open_connector

    with cli_errors(as_json):
        loaded = load(config)
        loaded.entity(entity)
        for system in (source, target):
            loaded.system(system)
            if system not in loaded.systems_of(entity):
                raise CliError(f"entity {entity!r} is not mapped in system {system!r}", 2)
        with (
            writing(loaded, "relink" if relink else "load", dry_run=dry_run) as store,
            open_connector(loaded, source) as src,
            open_connector(loaded, target) as tgt,
        ):
            total = src.count(entity)
            if as_json:
                report = run_initial_load(
                    loaded,
                    store,
                    entity,
                    src,
                    tgt,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    workers=workers,
                    relink=relink,
                )
            else:
                verb = "planning" if dry_run else "relinking" if relink else "loading"
                with Progress(
                    TextColumn(f"[bold]{verb} {lit(entity)}[/] {lit(source)} → {lit(target)}"),
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
                        relink=relink,
                    )
        _print_load_report(report, as_json)
        if report.aborted or report.failed:
            raise typer.Exit(EXIT_FAILED)
        if report.conflicts and not report.dry_run:
            raise typer.Exit(EXIT_ATTENTION)  # done; a person decides the held fields


def _print_load_report(report: LoadReport, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": not report.aborted and not report.failed, **report.as_dict()})
        return
    verb = "would be " if report.dry_run else ""
    say(
        f"{report.read} read from {lit(report.source)}; {verb}created {report.created}, {verb}linked {report.linked}, "
        f"skipped {report.skipped}, failed {report.failed}"
        + (f", recovered {report.recovered} from an interrupted run" if report.recovered else "")
    )
    if report.conflicts:
        say(
            f"{report.conflicts} field(s) hold different values in the two systems and wait for a decision: "
            "`einklang conflicts`"
        )
    if not report.target_was_empty and (report.linked or (not report.dry_run and report.created)):
        say(f"{lit(report.target)} was not empty: existing records were matched by key first")
    if report.target_unlinked:
        say(
            f"{report.target_unlinked} record(s) only {lit(report.target)} has stay unlinked for now: the next "
            f"`einklang sync` treats them as new and brings them to {lit(report.source)} "
            "(unless create_in says otherwise)"
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
        say(f"[red]aborted:[/] {lit(report.aborted)}; run the same command again to continue")

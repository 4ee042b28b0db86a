"""Commands: inspect, dedupe, import, review apply, undo (contact files and duplicate review)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from einklang.cli._common import (
    CliError,
    ConfigOption,
    JsonOption,
    cli_errors,
    emit_json,
    err_console,
    lit,
    load,
    render_list,
    say,
    writing,
)
from einklang.cli.wording import import_lines, review_lines

if TYPE_CHECKING:
    from einklang.config import LoadedConfig
    from einklang.importer.checks import DuplicateRow
    from einklang.importer.incoming import FileReport
    from einklang.importer.run_report import ImportReport

review_app = typer.Typer(help="Apply the decisions of a review file.", no_args_is_help=True)

FilesArgument = Annotated[
    list[Path] | None, typer.Argument(help="Contact files (Outlook/Google CSV, vCard, CSV).", show_default=False)
]
SystemOption = Annotated[str | None, typer.Option("--system", help="Check the records inside this configured system.")]
EntityOption = Annotated[str | None, typer.Option("--entity", help="Entity inside the system (default: all).")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
    app.command("dedupe")(dedupe)
    app.command("import")(import_command)
    app.command("undo")(undo)
    app.add_typer(review_app, name="review")


def _entities(loaded: LoadedConfig, system: str, entity: str | None) -> list[str]:
    loaded.system(system)
    if entity:
        if system not in loaded.systems_of(entity):
            raise CliError(f"entity {entity!r} is not mapped in system {system!r}", 2)
        return [entity]
    return list(loaded.entities_of(system))


@contextmanager
def _reading_progress(paths: list[Path], as_json: bool) -> Iterator[Callable[[str, int], None] | None]:
    """A progress bar on stderr while files are read (rows, by file) and then for each later step
    of an import (persons so far); only on a terminal, never with --json, so piped output stays clean."""
    if as_json or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed:,}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        shown = {str(path) for path in paths}
        tasks: dict[str, TaskID] = {str(path): bar.add_task(f"reading {path}", total=None) for path in paths}

        def advance(source: str, rows: int) -> None:
            task = tasks.get(source)
            if task is None:
                label = f"reading {source}" if source in shown else source
                task = tasks[source] = bar.add_task(label, total=None)
            bar.update(task, completed=rows)

        yield advance


def _print_files(reports: list[FileReport]) -> None:
    items = []
    for r in reports:
        how = ", ".join(
            part for part in (r.format, r.encoding, f"delimiter {r.delimiter!r}" if r.delimiter else "") if part
        )
        items.append(
            (
                r.source,
                [
                    f"{how}: {r.rows_read} row(s), {r.rows_usable} usable, {r.rows_left_out} left out, "
                    f"{r.errors} error(s), {r.warnings} warning(s)"
                    if how
                    else f"{r.rows_read} row(s), {r.errors} error(s)"
                ],
            )
        )
    render_list("Files", items)
    for report in reports:
        if report.error:
            say(f"[red]error[/] {lit(report.error)}")
        for problem in report.problems:
            colour = "red" if problem.severity == "error" else "yellow"
            say(f"[{colour}]{problem.severity}[/] {lit(problem)}")
        if report.problems_left_out:
            say(f"... and {report.problems_left_out} more problem(s) in {lit(report.source)}")


def inspect(
    files: FilesArgument = None,
    system: SystemOption = None,
    entity: EntityOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read files (or a system's records) and report every problem by file:line:field.

    Exit code 1 when any error was found (warnings alone exit 0), 2 for usage errors.
    """
    from einklang.importer.checks import inspect_system
    from einklang.importer.incoming import scan_files
    from einklang.systems import open_connector

    with cli_errors(as_json):
        if bool(files) == bool(system):
            raise CliError("give contact files or --system SYSTEM (not both)", 2)
        if files:
            region = "DE"
            if config is not None:
                region = load(config).model.default_region
            with _reading_progress(files, as_json) as progress:
                reports = scan_files(files, region, progress)
            errors = sum(r.errors for r in reports)
            if as_json:
                emit_json({"ok": errors == 0, "errors": errors, "files": [r.as_dict() for r in reports]})
            else:
                _print_files(reports)
                say(f"{errors} error(s), {sum(r.warnings for r in reports)} warning(s) in {len(reports)} file(s)")
        else:
            assert system is not None
            loaded = load(config)
            results = []
            with open_connector(loaded, system) as connector:
                for name in _entities(loaded, system, entity):
                    results.append(inspect_system(loaded, connector, name))
            errors = sum(r.errors for r in results)
            if as_json:
                emit_json({"ok": errors == 0, "errors": errors, "entities": [r.as_dict() for r in results]})
            else:
                for result in results:
                    say(
                        f"{lit(result.system)} {lit(result.entity)}: {result.records} records, "
                        f"{result.errors} problem(s)"
                    )
                    for problem in result.problems:
                        say(f"  [red]error[/] {lit(problem['text'])}")
        if errors:
            raise typer.Exit(1)


def dedupe(
    files: FilesArgument = None,
    against: Annotated[
        list[Path] | None, typer.Option("--against", help="Only pairs between FILE... and this file (repeatable).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the pairs to this CSV file.")] = None,
    model_path: Annotated[
        Path | None,
        typer.Option("--model", help="A model saved by `einklang match train` (default: the shipped model)."),
    ] = None,
    system: SystemOption = None,
    entity: EntityOption = None,
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="duckdb (this machine) or spark; default: config dedupe.engine, else duckdb."),
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option("--spark-master", help="Spark master for --engine spark: local[2] or spark://host:7077."),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option(
            "--spark-conf",
            metavar="KEY=VALUE",
            help="A Spark setting (repeatable), e.g. spark.pyspark.python=/opt/einklang/bin/python.",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find duplicate pairs within and across files (or inside a system); CSV a_source,a_row,b_source,b_row,...

    Parquet files (columns named like einklang's contact fields) are read and matched as a stream.
    """
    from einklang.importer.checks import dedupe_files, dedupe_system, write_matches
    from einklang.importer.matching import (
        dedupe_backend,
        dedupe_parquet,
        is_parquet,
        spark_settings_option,
        write_matches_streaming,
    )
    from einklang.match import MatchModel
    from einklang.systems import open_connector

    with cli_errors(as_json), _engine_errors():
        if bool(files) == bool(system):
            raise CliError("give contact files or --system SYSTEM (not both)", 2)
        if engine not in (None, "duckdb", "spark"):
            raise CliError(f"--engine is duckdb or spark, not {engine!r}", 2)
        try:
            spark_settings = spark_settings_option(spark_conf or [])
        except ValueError as error:
            raise CliError(str(error), 2) from None
        reports: list[FileReport] = []
        unreadable: list[FileReport] = []
        model = MatchModel.load(model_path) if model_path is not None else None
        loaded_config = load(config) if config is not None or system else None
        try:
            backend = dedupe_backend(
                engine, spark_master, loaded_config.model.dedupe if loaded_config else None, spark_settings
            )
        except RuntimeError as error:
            raise CliError(str(error), 1) from None
        if files and all(is_parquet(path) for path in [*files, *(against or [])]):
            region = loaded_config.model.default_region if loaded_config else "DE"
            streamed = dedupe_parquet(files, against or [], default_region=region, model=model, backend=backend)
            if out is not None and not as_json:
                # Large data: every pair goes to the file as it comes; only the first 100 are kept to show.
                shown, counts = write_matches_streaming(out, streamed, keep=100)
                _render_pairs(shown, counts, sum(counts.values()), out)
                return
            pairs = list(streamed)
        elif files:
            region = loaded_config.model.default_region if loaded_config else "DE"
            reports, pairs = dedupe_files(files, against or [], region, model=model, backend=backend)
            # A file that cannot be read is reported and the others are still compared; exit 1 at the end.
            unreadable = [r for r in reports if r.error]
            if not as_json:
                for report in unreadable:
                    say(f"[red]error[/] {lit(report.error)} (file left out)")
        else:
            assert system is not None
            loaded = load(config)
            pairs = []
            with open_connector(loaded, system) as connector:
                for name in _entities(loaded, system, entity):
                    pairs += dedupe_system(loaded, connector, name, model=model, backend=backend)
        if out is not None:
            write_matches(out, pairs)
        counts = {
            "duplicate": sum(1 for p in pairs if p.verdict == "duplicate"),
            "possible": sum(1 for p in pairs if p.verdict == "possible"),
        }
        if as_json:
            emit_json(
                {
                    "ok": not unreadable,
                    "errors": [r.error for r in unreadable],
                    "out": str(out) if out else None,
                    "pairs": len(pairs),
                    **counts,
                    "matches": [p.as_dict() for p in pairs],
                    "files": [{k: v for k, v in r.as_dict().items() if k != "problems"} for r in reports],
                }
            )
            if unreadable:
                raise typer.Exit(1)
            return
        _render_pairs(pairs[:100], counts, len(pairs), out)
        if unreadable:
            say(f"{len(unreadable)} file(s) could not be read (see above)")
            raise typer.Exit(1)


@contextmanager
def _engine_errors() -> Iterator[None]:
    """A Spark task whose Python lacks a module: what to do, not the workers' whole traceback."""
    from einklang.importer.matching import spark_worker_failure

    try:
        yield
    except Exception as error:
        advice = spark_worker_failure(error)
        if advice is None:
            raise
        raise CliError(advice, 1) from None


def _render_pairs(shown: Sequence[DuplicateRow], counts: dict[str, int], total: int, out: Path | None) -> None:
    render_list(
        f"Duplicate pairs ({counts['duplicate']} sure, {counts['possible']} possible)",
        [
            (
                f"{p.a_source}:{p.a_row} and {p.b_source}:{p.b_row}: {p.verdict}, score {p.score:.3f}",
                ["; ".join(p.reasons)],
            )
            for p in shown[:100]
        ],
    )
    if total > 100:
        say(f"... and {total - 100} more" + (f" (all in {lit(out)})" if out else " (use --out)"))
    if out is not None:
        say(f"wrote {total} pair(s) to {lit(out)}")


def import_command(
    files: Annotated[list[Path], typer.Argument(help="Contact files to import.")],
    into: Annotated[str, typer.Option("--into", help="System to import into, e.g. crm.")],
    entity: Annotated[str, typer.Option("--entity", help="Entity of the target system.")] = "contact",
    review: Annotated[
        Path | None,
        typer.Option("--review", help="Review file to write (.xlsx or .csv; default einklang-review-RUN.xlsx)."),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Labels of the review file: en or de.")] = "en",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a review file that holds decisions.")] = False,
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import contact files into a system: merge, match, create new ones, write duplicates to a review file."""
    from einklang.importer.pipeline import run_import
    from einklang.importer.run_report import ImportRefused
    from einklang.systems import open_connector

    with cli_errors(as_json):
        if lang not in ("en", "de"):
            raise CliError("--lang is en or de", 2)
        loaded = load(config)
        if into not in loaded.systems_of(entity):
            raise CliError(f"entity {entity!r} is not mapped in system {into!r}", 2)
        with writing(loaded, "import", dry_run=dry_run) as store, open_connector(loaded, into) as connector:
            try:
                with _reading_progress(files, as_json) as progress:
                    report = run_import(
                        loaded,
                        store,
                        connector,
                        files,
                        entity=entity,
                        review_path=review,
                        lang=lang,
                        dry_run=dry_run,
                        overwrite=overwrite,
                        progress=progress,
                    )
            except ImportRefused as exc:
                raise CliError(str(exc), 2) from None
        _print_import(report, as_json)
        if report.failed or any(f.error for f in report.files):
            raise typer.Exit(1)


def _print_import(report: ImportReport, as_json: bool) -> None:
    ok = not report.failed and not any(f.error for f in report.files)
    if as_json:
        emit_json({"ok": ok, **report.as_dict()})
        return
    _print_files(report.files)
    for line in import_lines(report.summary()):
        say(lit(line))
    for failure in report.failures:
        say(f"[red]failed[/] {lit(failure)}")
    if report.review_file:
        say(f"fill in the decisions, then: einklang review apply {lit(report.review_file)}")
    if report.run_id is not None:
        say(f"run {report.run_id}; `einklang undo {report.run_id}` reverts it")


@review_app.command("apply")
def review_apply(
    file: Annotated[Path, typer.Argument(help="The review file with decisions (.xlsx or .csv).")],
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="Apply the valid rows even when others are refused (default: a refused row applies nothing).",
        ),
    ] = False,
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the decisions (merge / create / skip / not-duplicate) of a review file.

    Every decided row is checked against what its import stored before anything is written;
    a refused row (named file:line) applies nothing unless --partial."""
    from einklang.importer.apply import apply_review
    from einklang.importer.review import ReviewFileError

    with cli_errors(as_json):
        loaded = load(config)
        try:
            with writing(loaded, "review apply", dry_run=dry_run) as store:
                report = apply_review(loaded, store, file, dry_run=dry_run, partial=partial)
        except ReviewFileError as exc:
            raise CliError(str(exc), 2) from None
        if as_json:
            emit_json({"ok": not report.failed, **report.as_dict()})
        else:
            for line in review_lines(report.as_dict()):
                say(lit(line))
            for failure in report.failures:
                say(f"[red]failed[/] {lit(failure)}")
            if not report.applied:
                say(f"nothing applied: {report.refused} row(s) refused (fix them, or --partial applies the others)")
            if report.run_id is not None:
                say(f"run {report.run_id}; `einklang undo {report.run_id}` reverts it")
        if report.failed:
            raise typer.Exit(1)


def undo(
    run_id: Annotated[int, typer.Argument(help="The import or review run to revert.")],
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revert a whole import or review run: delete what it created, restore what it merged."""
    from einklang.importer.undo import UndoError, undo_run

    with cli_errors(as_json):
        loaded = load(config)
        try:
            with writing(loaded, "undo", dry_run=dry_run) as store:
                report = undo_run(loaded, store, run_id, dry_run=dry_run)
        except UndoError as exc:
            raise CliError(str(exc), 2) from None
        result: dict[str, Any] = {"ok": not report.failed, **report.as_dict()}
        if as_json:
            emit_json(result)
        else:
            verb = "would be " if dry_run else ""
            say(
                f"run {run_id}: {verb}deleted {report.deleted}, {verb}restored {report.restored}, "
                f"{verb}unlinked {report.unlinked}, decisions reverted {report.decisions_reverted}, "
                f"failed {report.failed}"
            )
            for failure in report.failures:
                say(f"[red]failed[/] {lit(failure)}")
        if report.failed:
            raise typer.Exit(1)

"""``einklang demo``: a realistic scenario on SQLite, end to end, in well under a minute."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from einklang.cli._common import JsonOption, cli_errors, console, emit_json
from einklang.cli._common import say as say_always


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the demo (re-created).")] = Path("einklang-demo"),
    customers: Annotated[int, typer.Option("--customers", min=10, max=100_000)] = 300,
    as_json: JsonOption = False,
) -> None:
    """Build a German ERP and an empty CRM on SQLite, check them and run the initial load."""
    from rich.rule import Rule

    from einklang.config import load_config
    from einklang.demo import scenario
    from einklang.demo.import_step import run_import_demo
    from einklang.demo.sync_step import run_sync_demo
    from einklang.store.state import open_store
    from einklang.sync.initial_load import run_initial_load
    from einklang.systems import open_connector

    with cli_errors(as_json):
        started = time.perf_counter()
        steps: list[dict[str, Any]] = []
        directory = directory.resolve()

        def say(message: str) -> None:
            if not as_json:
                say_always(message)

        def step(title: str) -> None:
            if not as_json:
                console.print(Rule(f"[bold]{title}"))

        step("1. Build the demo systems")
        config_path = scenario.build(directory, customers)
        say(f"ERP  {directory / 'erp.db'}: tables kunden ({customers}), warengruppen, artikel, mitarbeiter")
        say(f"CRM  {directory / 'crm.db'}: tables accounts, contacts (empty)")
        say(f"config {config_path}")
        steps.append({"step": "build", "dir": str(directory), "config": str(config_path)})

        step("2. einklang check")
        config = load_config(config_path)
        store = open_store(config.state_url)
        checks = []
        for system in config.model.systems:
            with open_connector(config, system) as connector:
                detail = connector.check()
            checks.append({"system": system, "ok": True, "detail": detail})
            say(f"[green]ok[/] {system}: {detail}")
        steps.append({"step": "check", "systems": checks})

        step("3. einklang load company --from erp --to crm")
        with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
            report = run_initial_load(config, store, "company", erp, crm)
        say(
            f"created {report.created} CRM accounts from {report.read} ERP customers and linked each pair; "
            f"failed {report.failed}"
        )
        for warning in report.warnings:
            say(f"  [yellow]warning[/] erp record {warning.native_id} field {warning.field}: {warning.reason}")
        steps.append({"step": "load", **report.summary(), "warnings": [w.as_dict() for w in report.warnings]})

        step("4. Run it again: nothing is created twice")
        with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
            again = run_initial_load(config, store, "company", erp, crm)
        say(f"second run: created {again.created}, already linked {again.skipped}")
        steps.append({"step": "load-again", **again.summary()})

        step("5. Outlook exports: inspect, import into the CRM with duplicate review, apply decisions")
        steps.append({"step": "import", **run_import_demo(directory, config_path, say)})

        step("6. Both systems are edited; einklang sync; a conflict is resolved; sync again")
        config = load_config(config_path)
        steps.append({"step": "sync", **run_sync_demo(directory, config, store, say)})

        seconds = round(time.perf_counter() - started, 2)
        if as_json:
            emit_json({"ok": True, "dir": str(directory), "seconds": seconds, "steps": steps})
            return
        step("Done")
        say(f"finished in {seconds} s. Try, in {directory}:")
        for command in (
            "einklang inspect exports/*.csv",
            "einklang status",
            "einklang sync --once",
            "einklang conflicts",
            "einklang log --entity company",
            "einklang check",
            "einklang config show",
            "einklang load company --from erp --to crm --dry-run",
        ):
            say(f"  cd {directory} && {command}")

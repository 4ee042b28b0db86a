"""``einklang demo``: a realistic scenario on SQLite, end to end, in well under a minute."""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from einklang.cli._common import EXIT_USAGE, CliError, JsonOption, cli_errors, console, emit_json, lit
from einklang.cli._common import say as say_always


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo: new, empty, or an earlier demo's (re-created).")
    ] = Path("einklang-demo"),
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Use a folder that is not empty and not an earlier demo's (its databases and "
            "einklang.yaml are replaced).",
        ),
    ] = False,
    customers: Annotated[
        int, typer.Option("--customers", min=10, max=100_000, help="Customers in the demo ERP.")
    ] = 300,
    as_json: JsonOption = False,
) -> None:
    """Build a German ERP and an empty CRM on SQLite and walk through einklang: check, initial load,
    Outlook exports imported with duplicate review, two-way sync with a conflict. Prints commands to try next."""
    from rich.rule import Rule
    from rich.text import Text

    from einklang.config import load_config
    from einklang.demo import scenario
    from einklang.demo.import_step import run_import_demo
    from einklang.demo.sync_step import run_sync_demo
    from einklang.store.state import store_for_config
    from einklang.sync.initial_load import run_initial_load
    from einklang.systems import open_connector

    with cli_errors(as_json):
        started = time.perf_counter()
        steps: list[dict[str, Any]] = []
        directory = directory.resolve()

        def say(message: str) -> None:
            """Print a message literally (the demo's data may hold brackets)."""
            if not as_json:
                say_always(lit(message))

        def step(title: str) -> None:
            if as_json:
                return
            if len(title) + 6 <= console.width:
                console.print(Rule(Text(title, style="bold")))
            else:  # a rule would cut the title
                console.print(Rule())
                console.print(Text(title, style="bold"))

        step("1. Build the demo systems")
        try:
            config_path = scenario.build(directory, customers, force=force)
        except scenario.DemoFolderError as refused:
            raise CliError(str(refused), EXIT_USAGE) from None
        say(f"ERP  {directory / 'erp.db'}: tables kunden ({customers}), warengruppen, artikel, mitarbeiter")
        say(f"CRM  {directory / 'crm.db'}: tables accounts, contacts, products, product_groups, users (empty)")
        say(f"config {config_path}")
        steps.append({"step": "build", "dir": str(directory), "config": str(config_path)})

        step("2. einklang check")
        config = load_config(config_path)
        store = store_for_config(config)
        checks = []
        for system in config.model.systems:
            with open_connector(config, system) as connector:
                detail = connector.check()
            checks.append({"system": system, "ok": True, "detail": detail})
            say(f"ok {system}: {detail}")
        steps.append({"step": "check", "systems": checks})

        step("3. Initial load: einklang load ENTITY --from erp --to crm")
        # referenced records first: a customer's account manager, a product's group
        both = {"erp", "crm"}
        for entity in [e for e in config.model.entity_order() if both <= set(config.systems_of(e))]:
            with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
                report = run_initial_load(config, store, entity, erp, crm)
            say(
                f"{entity}: created {report.created} in the CRM from {report.read} ERP records, "
                f"linked each pair; failed {report.failed}"
            )
            for warning in report.warnings:
                say(f"  warning: erp record {warning.native_id} field {warning.field}: {warning.reason}")
            name = "load" if entity == "company" else f"load-{entity}"
            steps.append({"step": name, **report.summary(), "warnings": [w.as_dict() for w in report.warnings]})

        step("4. The same load again: nothing is created twice")
        with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
            again = run_initial_load(config, store, "company", erp, crm)
        say(f"second run: created {again.created}, already linked {again.skipped}")
        steps.append({"step": "load-again", **again.summary()})

        step("5. Outlook exports: inspect, import with duplicate review, decide")
        steps.append({"step": "import", **run_import_demo(directory, config_path, say)})

        step("6. Edits in both systems: sync, decide a conflict, sync again")
        config = load_config(config_path)
        steps.append({"step": "sync", **run_sync_demo(directory, config, store, say)})

        step("7. The web app: a sign-in for the people who decide conflicts and duplicates")
        login = _demo_login(store)
        say(f"user {login[0]} (role admin) created in the state store; `einklang serve` shows the web app")
        steps.append({"step": "web-login", "user": login[0]})

        seconds = round(time.perf_counter() - started, 2)
        if as_json:
            emit_json(
                {
                    "ok": True,
                    "dir": str(directory),
                    "seconds": seconds,
                    "steps": steps,
                    "login": {"user": login[0], "password": login[1], "url": "http://127.0.0.1:8080/"},
                }
            )
            return
        step("Done")
        say(f"finished in {seconds} s. Try it yourself:")
        for line in next_steps(directory, login):  # never wrapped by us: each line stays one command to copy
            console.print(line, soft_wrap=True, markup=False, highlight=False)


DEMO_USER = "demo"


def _demo_login(store: Any) -> tuple[str, str]:
    """A demo administrator with a fresh random password (the demo folder is local and new)."""
    import secrets

    from einklang.web.accounts import add_user

    password = secrets.token_urlsafe(9)
    with store.transaction() as conn:
        add_user(conn, DEMO_USER, "admin", password)
    return DEMO_USER, password


HINTS = (
    "inspect exports/*.csv",
    "status",
    "sync --once",
    "conflicts list --all",
    "log --entity company --limit 20",
    "check",
    "config show",
    "load company --from erp --to crm --dry-run",
)


def next_steps(directory: Path, login: tuple[str, str] | None = None) -> list[str]:
    """Commands to try after the demo, as they can be copied: with this installation's ``einklang``
    when the shell would not find it (or find another one) on PATH."""
    installed = Path(sys.executable).parent / "einklang"
    found = shutil.which("einklang")
    if not installed.exists() or (found is not None and Path(found).resolve() == installed.resolve()):
        program = "einklang"
    else:
        program = shlex.quote(str(installed))
    lines = [f"  cd {shlex.quote(str(directory))}"]
    lines += [f"  {program} {hint}" for hint in HINTS]
    if login is not None:
        lines.append("The web app (conflicts, duplicate review, records, runs), in the same folder:")
        lines.append(f"  {program} serve")
        lines.append(f"  then open http://127.0.0.1:8080/ and sign in as {login[0]}, password {login[1]}")
        lines.append(f"  (a new password: {program} users passwd {login[0]})")
    if program != "einklang":
        activate = installed.parent / "activate"
        lines.append("To type just `einklang`, put it on your PATH first:")
        lines.append(f"  source {shlex.quote(str(activate))}")
    return lines

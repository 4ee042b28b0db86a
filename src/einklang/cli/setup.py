"""Commands that set einklang up and check it: init, config show, check, connectors."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from einklang.cli._common import (
    ConfigOption,
    JsonOption,
    cli_errors,
    console,
    emit_json,
    lit,
    load,
    mask,
    render_table,
    say,
)

if TYPE_CHECKING:
    from einklang.config import LoadedConfig

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("check")(check)
    app.command("connectors")(connectors)
    app.add_typer(config_app, name="config")


def init(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Create or upgrade the state store (Alembic migrations)."""
    from einklang.store.state import StateStore

    with cli_errors(as_json):
        loaded = load(config)
        store = StateStore(loaded.state_url, allow_foreign_tables=loaded.model.state_shared_database)
        before, after = store.migrate()
        result = {"ok": True, "state": mask(loaded.state_url), "revision_before": before, "revision": after}
        if as_json:
            emit_json(result)
        elif before == after:
            say(f"state store {lit(loaded.state_url)} is up to date (schema {after})")
        else:
            say(f"state store {lit(loaded.state_url)} migrated from {before or 'empty'} to schema {after}")


@config_app.command("show")
def config_show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective configuration with secrets masked."""
    import yaml

    with cli_errors(as_json):
        loaded = load(config)
        data = loaded.masked()
        if as_json:
            emit_json({"ok": True, "path": str(loaded.path), "config": data})
        else:
            text = f"# {loaded.path}\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
            console.print(mask(text), end="", markup=False, soft_wrap=True)


def check(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Connect to the state store and every system; report ok/failed per system with the reason."""
    with cli_errors(as_json):
        loaded = load(config)
        started = time.perf_counter()
        results = run_checks(loaded)
        all_ok = all(r["ok"] for r in results)
        if as_json:
            emit_json({"ok": all_ok, "checks": results, "seconds": round(time.perf_counter() - started, 3)})
        else:
            for r in results:
                mark = "[green]ok[/]    " if r["ok"] else "[red]failed[/]"
                say(f"{mark} {lit(r['name']):<14} {lit(r['kind']):<10} {lit(mask(str(r['detail'])))}")
        if not all_ok:
            raise typer.Exit(1)


def run_checks(loaded: LoadedConfig) -> list[dict[str, Any]]:
    """The state store and every system: ``{"name", "kind", "ok", "detail"}`` each (also ``serve --check``)."""
    from einklang.store.state import StateStore
    from einklang.systems import open_connector

    results: list[dict[str, Any]] = []
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
    return results


def connectors(as_json: JsonOption = False) -> None:
    """List the installed connectors (entry point group einklang.connectors)."""
    from einklang.connectors.base import installed_connectors

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

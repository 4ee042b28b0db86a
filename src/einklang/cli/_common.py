"""Shared CLI plumbing: options, JSON/human output, error reporting with exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from einklang.config import ConfigError, LoadedConfig, load_config
from einklang.connectors.base import ConnectorError
from einklang.masking import mask
from einklang.store.state import StateStore, store_for_config

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="einklang.yaml to use (default: $EINKLANG_CONFIG or ./einklang.yaml)"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class CliError(Exception):
    """An error meant for the user; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}


def emit_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(mask(text) + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    console.print(mask(message))


@contextmanager
def cli_errors(as_json: bool) -> Iterator[None]:
    """Turn known errors into a clear message (or JSON) and a non-zero exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except ConfigError as exc:
        _fail(
            as_json,
            "config",
            str(exc),
            2,
            {"file": str(exc.file) if exc.file else None, "line": exc.line, "key": exc.key},
        )
    except ConnectorError as exc:
        _fail(as_json, "system", str(exc), 1, {"system": exc.system, "record_id": exc.record_id})
    except CliError as exc:
        _fail(as_json, "error", str(exc), exc.code, exc.details)
    except KeyboardInterrupt:
        _fail(as_json, "interrupted", "interrupted", 130, {})
    except Exception as exc:  # an unexpected error still gets a clean, masked report
        if not as_json and "--traceback" in sys.argv:
            raise
        _fail(as_json, "internal", f"{type(exc).__name__}: {exc}", 1, {})


def _fail(as_json: bool, kind: str, message: str, code: int, details: dict[str, Any]) -> None:
    if as_json:
        emit_json({"ok": False, "error": {"kind": kind, "message": mask(message), **details}})
    else:
        err_console.print(f"[bold red]error:[/] {mask(message)}", soft_wrap=True)
    raise typer.Exit(code)


def load(config_path: Path | None) -> LoadedConfig:
    return load_config(config_path)


def store_for(config: LoadedConfig) -> StateStore:
    return store_for_config(config)


def render_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[mask("" if cell is None else str(cell)) for cell in row])
    console.print(table)


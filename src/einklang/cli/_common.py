"""Shared CLI plumbing: options, JSON/human output, error reporting with exit codes.

Start-up time matters for a command line (``einklang --help`` should answer at once), so this
module and every command module import only Typer and rich at the top. The configuration
(pydantic), the state store (SQLAlchemy, Alembic), the matcher (Splink, pandas, DuckDB) and the
connectors are imported inside the commands that use them; ``tests/unit/cli`` guards that.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from einklang.masking import mask as mask_secrets

if TYPE_CHECKING:
    from einklang.config import LoadedConfig
    from einklang.store.state import StateStore

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="einklang.yaml to use (default: $EINKLANG_CONFIG or ./einklang.yaml)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


# Exit codes, the same for every command (docs/security.md):
EXIT_OK = 0
EXIT_FAILED = 1  # an error, or records that could not be written (isolated, listed by `status`)
EXIT_USAGE = 2  # a wrong option, or a configuration error (file:line: key: message)
EXIT_BUSY = 3  # another einklang process is writing to the state store
EXIT_NOT_FOUND = 4  # the record or run named does not exist
EXIT_UNREACHABLE = 5  # a system could not be reached: its writes wait for the next cycle
EXIT_ATTENTION = 6  # done, but a person must decide: open conflicts, held-back deletions, a lost state store
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """An error meant for the user; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}


def mask(text: str) -> str:
    """Secrets out of everything printed (:mod:`einklang.masking` is light: no pydantic)."""
    return mask_secrets(text)


def emit_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(mask(text) + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    """Print a message written as rich markup. Data inside it must be passed through :func:`lit`."""
    console.print(mask(message))


def lit(value: Any) -> str:
    """A value shown literally inside a :func:`say` message: ``[red]`` in data stays ``[red]``."""
    return escape(str(value))


@contextmanager
def cli_errors(as_json: bool) -> Iterator[None]:
    """Turn known errors into a clear message (or JSON) and a non-zero exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except CliError as exc:
        _fail(as_json, "error", str(exc), exc.code, exc.details)
    except KeyboardInterrupt:
        _fail(as_json, "interrupted", "interrupted", EXIT_INTERRUPTED, {})
    except Exception as exc:  # an unexpected error still gets a clean, masked report
        from einklang.config import ConfigError
        from einklang.connectors.base import ConnectorError

        if isinstance(exc, ConfigError):
            details = {"file": str(exc.file) if exc.file else None, "line": exc.line, "key": exc.key}
            _fail(as_json, "config", str(exc), 2, details)
        if isinstance(exc, ConnectorError):
            _fail(as_json, "system", str(exc), 1, {"system": exc.system, "record_id": exc.record_id})
        if not as_json and "--traceback" in sys.argv:
            raise
        _fail(as_json, "internal", f"{type(exc).__name__}: {exc}", 1, {})


def _fail(as_json: bool, kind: str, message: str, code: int, details: dict[str, Any]) -> NoReturn:
    if as_json:
        emit_json({"ok": False, "error": {"kind": kind, "message": mask(message), **details}})
    else:
        err_console.print(f"[bold red]error:[/] {escape(mask(message))}", soft_wrap=True)
    raise typer.Exit(code)


def load(config_path: Path | None) -> LoadedConfig:
    from einklang.config import load_config

    return load_config(config_path)


@contextmanager
def writing(config: LoadedConfig, purpose: str, *, dry_run: bool = False, wait: float = 0.0) -> Iterator[StateStore]:
    """The state store, with the writer lock held for the block unless it is a dry run.

    Every command that writes holds the one writer lock (:mod:`einklang.store.lock`), so an
    import never plans against links a running sync is changing. ``wait``: seconds to wait for
    another writer to finish before giving up with exit code 3.
    """
    from einklang.store.lock import LockBusy, writer_lock

    store = store_for(config)
    with ExitStack() as stack:
        deadline = time.monotonic() + wait
        while not dry_run:
            try:
                stack.enter_context(writer_lock(store, purpose))
                break
            except LockBusy as busy:
                if time.monotonic() >= deadline:
                    waited = f" (waited {wait:g} s)" if wait else ""
                    raise CliError(f"{busy}{waited}", EXIT_BUSY) from None
            time.sleep(0.2)
        yield store


def store_for(config: LoadedConfig) -> StateStore:
    from einklang.store.state import store_for_config

    return store_for_config(config)


def render_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A table that stays readable at 80 columns and in a pipe: cells wrap at spaces, a word too
    long for its column (a file name, an id) folds onto the next line instead of being cut, and
    cells and title are printed literally (never read as rich markup)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(mask(title), style="bold") if title else None,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        show_edge=False,
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[Text(mask("" if cell is None else str(cell))) for cell in row])
    console.print(table)
    console.print()


def render_list(title: str, items: list[tuple[str, list[str]]]) -> None:
    """Entries too wide for a table row at 80 columns (the audit log, conflicts, files, pairs): a
    headline per entry and its details indented below it. Lines wrap at the console's width with
    their indent kept (a word longer than a line is folded, never cut); printed literally."""
    import textwrap

    width = max(console.width, 40)

    def show(text: str, indent: str, hanging: str, style: str | None = None) -> None:
        for paragraph in mask(text).splitlines() or [""]:
            wrapped = textwrap.fill(
                paragraph, width, initial_indent=indent, subsequent_indent=hanging, break_on_hyphens=False
            )
            console.print(wrapped, style=style, markup=False, highlight=False, soft_wrap=True)

    show(title, "", "", style="bold")
    for headline, details in items:
        show(headline, "", "  ")
        for line in details:
            show(line, "    ", "    ")


# Options of a sync worker, the same for `sync --every --worker` and `serve --worker`
LeaseSeconds = Annotated[
    float, typer.Option("--lease", help="--worker: seconds after which a silent worker's entities are taken over.")
]
Partitions = Annotated[
    int,
    typer.Option(
        "--partitions",
        help="--worker: lease each entity in this many partitions of its golden records, so that "
        "several workers share one entity (the same number on every worker; docs/sync-workers.md).",
        min=1,
    ),
]

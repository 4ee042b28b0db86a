"""The ``einklang`` command line. Every command also speaks ``--json``.

Importing this package loads Typer and rich only; each command imports what it needs when it
runs (see ``cli/_common.py``), so ``einklang --help`` and ``einklang --version`` answer at once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from einklang.cli import demo, importing, load, matching, serve, setup, status, sync, users

app = typer.Typer(
    name="einklang",
    help="Keep master data in agreement across systems (ERP, CRM, address books, contact files).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("einklang")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"einklang {version_text()}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option("--version", help="Print the installed version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    """Keep master data in agreement across systems (ERP, CRM, address books, contact files)."""


setup.register(app)
load.register(app)
status.register(app)
demo.register(app)
importing.register(app)
sync.register(app)
matching.register(app)
serve.register(app)
users.register(app)


def main() -> None:
    app()

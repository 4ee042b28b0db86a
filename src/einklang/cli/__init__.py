"""The ``einklang`` command line. Every command also speaks ``--json``."""

from __future__ import annotations

import typer

from einklang.cli import demo, foundation, importing, matching, sync

app = typer.Typer(
    name="einklang",
    help="Keep master data in agreement across systems (ERP, CRM, address books, contact files).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
foundation.register(app)
demo.register(app)
importing.register(app)
sync.register(app)
matching.register(app)


def main() -> None:
    app()

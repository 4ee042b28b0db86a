"""Every command accepts --json (the issue's contract for scripting)."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from einklang.cli import app


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _commands(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


def test_every_command_has_a_json_option() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert len(commands) >= 15
    missing = [
        " ".join(path) for path, command in commands if not any("--json" in param.opts for param in command.params)
    ]
    assert missing == []


def test_help_works_for_every_command() -> None:
    root = typer.main.get_command(app)
    runner = CliRunner()
    for path, _ in _commands(root):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)


def test_every_option_and_argument_has_help_text() -> None:
    root = typer.main.get_command(app)
    groups = [("", root), *((name, command) for name, command in root.commands.items() if hasattr(command, "commands"))]
    missing = [
        f"{name or 'einklang'}: {param.name}"
        for name, group in groups
        for param in group.params
        if not getattr(param, "help", None)
    ]
    for path, command in _commands(root):
        missing += [f"{' '.join(path)}: {param.name}" for param in command.params if not getattr(param, "help", None)]
    assert missing == []

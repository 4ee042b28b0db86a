"""The import's progress bar: on stderr, only on a terminal, never with --json."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from einklang.cli import importing


def test_bar_shows_files_and_steps_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(importing, "err_console", Console(file=screen, force_terminal=True, width=80))
    with importing._reading_progress([Path("a[red].csv")], as_json=False) as advance:
        assert advance is not None
        advance("a[red].csv", 2000)
        advance("deciding, persons", 10)
    shown = screen.getvalue()
    assert "reading a[red].csv" in shown  # a file name is never taken for markup
    assert "deciding, persons" in shown


@pytest.mark.parametrize("terminal, as_json", [(False, False), (True, True)], ids=["piped", "json"])
def test_no_bar_in_a_pipe_or_with_json(monkeypatch: pytest.MonkeyPatch, terminal: bool, as_json: bool) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(importing, "err_console", Console(file=screen, force_terminal=terminal, width=80))
    with importing._reading_progress([Path("a.csv")], as_json=as_json) as advance:
        assert advance is None
    assert screen.getvalue() == ""

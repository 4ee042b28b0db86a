"""Fixtures for the whole suite: every test starts from the same process-wide state.

The suite runs in random order (pytest-randomly; ``-p no:randomly`` turns that off, the seed
printed in the header replays an order with ``-p randomly --randomly-seed=N``), so a test must
neither depend on nor leave behind state that lives longer than the test.
"""

from __future__ import annotations

import pytest

import einklang.masking
from einklang.testing.memory import forget_memory_systems


@pytest.fixture(autouse=True)
def _fresh_secret_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test masks only the secrets of the configs it loaded itself.

    ``einklang.masking.SECRETS`` collects, for the life of the process, every value that came from
    a secrets file or a ``${VAR}`` (user names, database names, URLs included) and ``mask()``
    replaces them in all CLI output. One process per CLI command is what that is built for; in
    the test process a config loaded by one test (the end-to-end examples register ``einklang``
    and ``admin``) would otherwise mask those words, e.g. in file paths, in every later test.
    """
    monkeypatch.setattr(einklang.masking, "SECRETS", einklang.masking.SecretRegistry())


@pytest.fixture(autouse=True)
def _fresh_memory_systems() -> None:
    """``{connector: memory}`` systems live for the process, by name: each test starts with none."""
    forget_memory_systems()

"""The match package has no import cycle, and Splink loads only with the matcher or training."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_model_imports_neither_matcher_nor_training_nor_splink() -> None:
    loaded = _modules_after("import einklang.match.model")
    assert not {"einklang.match.matcher", "einklang.match.training", "splink", "pandas"} & loaded


def test_matcher_does_not_import_training() -> None:
    assert "einklang.match.training" not in _modules_after("import einklang.match.matcher")


def test_training_is_reachable_from_the_package() -> None:
    from einklang.match import train
    from einklang.match.training import train as trained_here

    assert train is trained_here

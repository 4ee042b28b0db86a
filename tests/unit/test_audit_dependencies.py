"""scripts/audit_dependencies.py on a small advisory database: affected pins found, ranges and
legacy layouts read right, drafts skipped (docs/dependency-audit.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit_dependencies.py"
FIXTURE = ROOT / "tests" / "fixtures" / "advisories"


def _run(constraints: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(FIXTURE), str(FIXTURE / constraints), *options],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("options", [(), ("--no-yaml",)])
def test_affected_pins_are_found_with_the_fixed_version(options: tuple[str, ...]) -> None:
    result = _run("constraints_bad.txt", *options)
    assert result.returncode == 1, result.stderr
    lines = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    assert "upgrade to >= 2.0.7" in lines["fakepkg-one"]  # inside the second window of an out-of-order list
    assert "upgrade to >= 1.10" in lines["Fake.Pkg_Two"]  # 1.9 < 1.10: versions, not strings
    assert "no entries" in lines["unknown-pkg"]
    assert "2 affected pin(s)" in result.stdout


def test_pins_at_or_above_every_fix_pass_and_drafts_are_skipped() -> None:
    result = _run("constraints_ok.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 affected pin(s)" in result.stdout
    with_drafts = _run("constraints_ok.txt", "--include-drafts")
    assert with_drafts.returncode == 1  # the open-ended draft flags what the final advisory does not

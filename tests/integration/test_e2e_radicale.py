"""End to end: the example examples/bottlecrm-radicale/run.py against real BottleCRM and Radicale.

CRM contacts <-> the employees' shared CardDAV address book: initial load (an existing card is
linked, not doubled), the address book's own cards reach the CRM, edits on both sides (the CRM
leads on a field changed in both, an e-mail changed in the address book is reverted), sync,
convergence of every linked contact.
"""

from __future__ import annotations

from pathlib import Path

import pytest

try:  # tests/ may or may not be a package, depending on who adds __init__ files
    from tests.integration.test_e2e_tryton_bottlecrm import load_example, require_templates
except ImportError:  # pragma: no cover
    from test_e2e_tryton_bottlecrm import load_example, require_templates  # type: ignore[no-redef]

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bottlecrm-radicale" / "run.py"


def test_bottlecrm_radicale_end_to_end(tmp_path: Path) -> None:
    require_templates("bottlecrm", "radicale")
    example = load_example(EXAMPLE, "einklang_example_bottlecrm_radicale")
    lines: list[str] = []
    scenario = example.Scenario(tmp_path / "work", lines.append, contacts=60)
    try:
        checks = scenario.run()
    except example.CheckFailed as failure:
        pytest.fail(f"scenario stopped: {failure}\n" + "\n".join(lines[-60:]))
    assert not checks.failed, "\n".join(checks.failed) + "\n\n" + "\n".join(lines)
    assert len(checks.passed) >= 20, "\n".join(lines)

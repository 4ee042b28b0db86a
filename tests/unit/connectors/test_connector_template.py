"""The REST connector template (examples/connector-template) passes the contract suite.

Run here so that a change to the contract or the HTTP helpers that breaks the template shows up
in einklang's own suite. The template is not installed: its folders go on sys.path.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[3] / "examples" / "connector-template"
for folder in (TEMPLATE / "src", TEMPLATE / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from test_template_contract import TestRestTemplateContract, server  # noqa: E402

__all__ = ["TestRestTemplateContract", "server"]

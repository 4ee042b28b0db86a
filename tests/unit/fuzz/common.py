"""Hypothesis settings shared by the fuzz tests: bounded in CI, ``FUZZ_EXAMPLES`` raises the count."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 150


def examples(default: int = DEFAULT_EXAMPLES) -> int:
    """``FUZZ_EXAMPLES`` (a whole number) when set, else ``default``."""
    raw = os.environ.get("FUZZ_EXAMPLES", "").strip()
    return int(raw) if raw.isdigit() else default


def fuzz_settings(default: int = DEFAULT_EXAMPLES) -> settings:
    return settings(
        max_examples=examples(default),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
        derandomize=False,
    )

"""Fuzzing campaign (issue "Hardening"): random configs, review files and synced values.

Bounded for CI: every test runs ``FUZZ_EXAMPLES`` examples (default in :mod:`.common`),
``deadline=None``. For a longer local campaign raise it, e.g.
``FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest -q tests/unit/fuzz``.
"""

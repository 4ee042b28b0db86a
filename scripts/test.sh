#!/usr/bin/env bash
# One command for the whole test suite: set up, lint, type-check, then unit + integration tests.
# Integration tests use the PostgreSQL and MariaDB of this machine and start Tryton, BottleCRM and
# Radicale themselves; with CI=true a missing server fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -x scripts/servers/setup-all.sh ] || [ -f scripts/servers/setup-all.sh ]; then
  bash scripts/servers/setup-all.sh
fi
.venv/bin/ruff check src tests bench
# enabled after the one-time reformat:
# .venv/bin/ruff format --check src tests bench
.venv/bin/mypy src/einklang
exec .venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 "$@"

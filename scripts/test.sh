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
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy src/einklang
# The tests run in random order (pytest-randomly). -q hides the header with the seed, so the seed is
# chosen and printed here; EINKLANG_TEST_SEED=N (or --randomly-seed=N) replays an order,
# -p no:randomly runs them in file order.
if [[ " $* " != *"no:randomly"* && " $* " != *"--randomly-seed"* ]]; then
  seed="${EINKLANG_TEST_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
  echo "test.sh: tests in random order, seed $seed (the same order again: EINKLANG_TEST_SEED=$seed ./scripts/test.sh)"
  set -- --randomly-seed="$seed" "$@"
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 "$@"

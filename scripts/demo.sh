#!/usr/bin/env bash
# One command for the demo on a fresh machine: set up, then `einklang demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/einklang demo "$@"

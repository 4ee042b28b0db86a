#!/usr/bin/env bash
# Create .venv with einklang and its development tools (idempotent, quick when nothing changed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.12 python3.11 python3; do
    # 2>/dev/null: a pyenv shim for a version that is installed but not selected complains on stderr
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON="$candidate"; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "einklang needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

# pip, minus one kind of noise: a pip.conf that names local mirrors (find-links / extra-index-url
# folders) makes pip warn "Location '...' is ignored: it is neither a file nor a directory" for
# every package the mirror lacks. Everything else pip says (errors included) still goes to stderr.
pip_install() {
  local status=0
  # with pipefail the pipeline's status is pip's (the filter always succeeds)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2 || status=$?
  if [ "$status" -ne 0 ]; then
    echo "bootstrap: pip install $* failed (exit $status)" >&2
    exit "$status"
  fi
}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  pip_install --upgrade pip
fi
stamp=.venv/.einklang-installed
# constraints.txt pins every package to the versions the suite last passed with (a lock file:
# regenerate it with `.venv/bin/pip freeze --exclude-editable > constraints.txt` after upgrading)
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "bootstrap: installing einklang and its dev tools into .venv (first time: 1-2 minutes)" >&2
  pip_install -e '.[dev]' -c constraints.txt
  touch "$stamp"
fi

# Shared helpers for the test-server scripts; sourced, not run.
# Everything heavy (venvs, template databases) lives outside the repository, in
# $EINKLANG_SERVERS_DIR, so that it survives `git clean` and is shared between worktrees.

set -euo pipefail

EINKLANG_SERVERS_DIR="${EINKLANG_SERVERS_DIR:-/work/.einklang-servers}"
mkdir -p "$EINKLANG_SERVERS_DIR"
SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${SERVER_NAME:-servers}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# A step is skipped when its marker file holds the same spec as now: changing the pinned
# versions in a script invalidates the marker and the step runs again.
step_done() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }
mark_done() { printf '%s' "$2" > "$1"; }

# make_venv PYTHON VENV_DIR SPEC PACKAGES...: (re)create the venv unless SPEC is already installed.
make_venv() {
    local python="$1" venv="$2" spec="$3"; shift 3
    if step_done "$venv/.einklang-installed" "$spec"; then
        log "venv $venv up to date"
        return 0
    fi
    log "installing into $venv: $*"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # The local mirrors in pip.conf warn once per package when they lack it; that is noise.
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; } >&2
    (( PIPESTATUS[0] == 0 )) || die "pip install failed"
    mark_done "$venv/.einklang-installed" "$spec"
}

# wait_for_http URL SECONDS [PID]: poll until the URL answers < 500, or fail early if PID dies.
wait_for_http() {
    local url="$1" seconds="$2" pid="${3:-}" deadline=$((SECONDS + $2))
    while (( SECONDS < deadline )); do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        local code
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
        if [[ "$code" =~ ^[234] ]]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# start_background INSTANCE_DIR COMMAND...: run a server detached, PID in INSTANCE_DIR/server.pid.
start_background() {
    local instance="$1"; shift
    # setsid: the server gets its own process group, so stop can end its children too
    setsid "$@" > "$instance/server.log" 2>&1 < /dev/null &
    echo $! > "$instance/server.pid"
}

# stop_instance INSTANCE_DIR: end the server whose PID was recorded there, waiting for it.
stop_instance() {
    local instance="$1" pidfile="$1/server.pid"
    [[ -f "$pidfile" ]] || { log "no server.pid in $instance"; return 0; }
    local pid; pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

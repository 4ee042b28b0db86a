#!/usr/bin/env bash
# BottleCRM (PyPI django-crm 1.35.0) test server on SQLite.
#   bottlecrm.sh install            Python 3.12 venv with django-crm (skipped when done)
#   bottlecrm.sh template           migrated SQLite template + org + access token (once; ~130 s)
#   bottlecrm.sh start DIR [PORT]   copy the template into DIR, runserver, wait until ready;
#                                   prints "url=..." "token=..."
#   bottlecrm.sh stop DIR           stop the server started in DIR
SERVER_NAME=bottlecrm
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HOME_DIR="$EINKLANG_SERVERS_DIR/bottlecrm"
VENV="$HOME_DIR/venv"
TEMPLATE="$HOME_DIR/template"
PACKAGES=('django-crm==1.35.0')
SPEC="${PACKAGES[*]}"

find_python312() {
    # BOTTLECRM_PYTHON, else any pyenv-installed 3.12/3.13 (selected or not), else one on PATH.
    # Each is tried: a pyenv shim for a version that is not selected exists but fails to run.
    local candidate pyenv_root
    pyenv_root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for candidate in "${BOTTLECRM_PYTHON:-}" "$pyenv_root"/versions/3.1[23].*/bin/python3 python3.12 python3.13 python3; do
        [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
            && { echo "$candidate"; return; }
    done
    die "BottleCRM (django-crm) needs Python >= 3.12 (e.g. pyenv install 3.12); set BOTTLECRM_PYTHON=/path/to/python3.12"
}

django_env() {  # django_env SQLITE_FILE: the environment every django-admin call needs
    export PYTHONPATH="$SCRIPTS_DIR" DJANGO_SETTINGS_MODULE=einklang_bottlecrm_settings BOTTLECRM_SQLITE="$1"
}

install() {
    mkdir -p "$HOME_DIR"
    make_venv "$(find_python312)" "$VENV" "$SPEC" "${PACKAGES[@]}"
}

template() {
    install
    # The template depends on the bootstrap and the settings as much as on the package version.
    local spec; spec="$SPEC $(cat "$SCRIPTS_DIR/bottlecrm_bootstrap.py" "$SCRIPTS_DIR/einklang_bottlecrm_settings.py" \
        | sha256sum | cut -c1-16)"
    if step_done "$TEMPLATE/.einklang-built" "$spec"; then
        log "template up to date"
        return 0
    fi
    log "building template database (django migrate, about 130 s)"
    local build="$HOME_DIR/template.building"
    rm -rf "$build" && mkdir -p "$build"
    django_env "$build/db.sqlite3"
    "$VENV/bin/django-admin" migrate -v 0 > "$build/init.log" 2>&1 \
        || { tail -20 "$build/init.log"; die "migrate failed"; }
    BOTTLECRM_TOKEN_FILE="$build/token" "$VENV/bin/django-admin" shell \
        < "$SCRIPTS_DIR/bottlecrm_bootstrap.py" >> "$build/init.log" 2>&1 \
        || { tail -20 "$build/init.log"; die "bootstrap failed"; }
    [[ -s "$build/token" ]] || die "bootstrap wrote no token"
    mark_done "$build/.einklang-built" "$spec"
    rm -rf "$TEMPLATE" && mv "$build" "$TEMPLATE"
}

start() {
    local instance="${1:?instance dir}" port="${2:-$(free_port)}"
    [[ -f "$TEMPLATE/.einklang-built" ]] || die "no template; run $0 template"
    mkdir -p "$instance"
    cp "$TEMPLATE/db.sqlite3" "$instance/db.sqlite3"
    django_env "$instance/db.sqlite3"
    start_background "$instance" "$VENV/bin/django-admin" runserver "127.0.0.1:$port" --noreload
    local url="http://127.0.0.1:$port"
    if ! wait_for_http "$url/healthz/" 60 "$(cat "$instance/server.pid")"; then
        tail -20 "$instance/server.log" >&2
        stop_instance "$instance"
        die "BottleCRM did not become ready on port $port"
    fi
    printf 'url=%s\ntoken=%s\n' "$url" "$(cat "$TEMPLATE/token")"
}

case "${1:-}" in
    install) install ;;
    template) template ;;
    start) shift; start "$@" ;;
    stop) stop_instance "${2:?instance dir}" ;;
    *) die "usage: $0 install|template|start DIR [PORT]|stop DIR" ;;
esac

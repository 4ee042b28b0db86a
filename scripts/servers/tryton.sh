#!/usr/bin/env bash
# Tryton 8.2 test server.
#   tryton.sh install              venv with trytond + modules (skipped when done)
#   tryton.sh template             SQLite template database with the modules activated (once)
#   tryton.sh start DIR [PORT]     copy the template into DIR, start trytond, wait until ready;
#                                  prints "url=..." "database=..." "user=..." "password=..."
#   tryton.sh stop DIR             stop the server started in DIR
SERVER_NAME=tryton
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HOME_DIR="$EINKLANG_SERVERS_DIR/tryton"
VENV="$HOME_DIR/venv"
TEMPLATE="$HOME_DIR/template"
DB_NAME=einklang
ADMIN_PASSWORD=admin
MODULES=(party company product sale_opportunity country)
PACKAGES=('trytond==8.2.*' 'trytond-party==8.2.*' 'trytond-company==8.2.*' 'trytond-product==8.2.*'
          'trytond-sale-opportunity==8.2.*' 'trytond-country==8.2.*' 'proteus==8.2.*')
SPEC="${PACKAGES[*]}"

write_conf() {  # write_conf DIR PORT
    cat > "$1/trytond.conf" <<CONF
[database]
uri = sqlite://
path = $1/db
language = en
[web]
listen = 127.0.0.1:$2
[session]
timeout = 36000
CONF
}

install() {
    mkdir -p "$HOME_DIR"
    make_venv python3 "$VENV" "$SPEC" "${PACKAGES[@]}"
}

template() {
    install
    local spec="$SPEC modules=${MODULES[*]}"
    if step_done "$TEMPLATE/.einklang-built" "$spec"; then
        log "template up to date"
        return 0
    fi
    log "building template database (about 25 s)"
    local build="$HOME_DIR/template.building"
    rm -rf "$build" && mkdir -p "$build/db"
    touch "$build/db/$DB_NAME.sqlite"
    write_conf "$build" 0
    printf '%s' "$ADMIN_PASSWORD" > "$build/admin.pass"
    export TRYTONPASSFILE="$build/admin.pass"
    "$VENV/bin/trytond-admin" -c "$build/trytond.conf" -d "$DB_NAME" --all --email admin@example.com \
        > "$build/init.log" 2>&1 || { tail -20 "$build/init.log"; die "trytond-admin --all failed"; }
    "$VENV/bin/trytond-admin" -c "$build/trytond.conf" -d "$DB_NAME" -u "${MODULES[@]}" \
        --activate-dependencies >> "$build/init.log" 2>&1 || { tail -20 "$build/init.log"; die "module activation failed"; }
    mark_done "$build/.einklang-built" "$spec"
    rm -rf "$TEMPLATE" && mv "$build" "$TEMPLATE"
}

start() {
    local instance="${1:?instance dir}" port="${2:-$(free_port)}"
    [[ -f "$TEMPLATE/.einklang-built" ]] || die "no template; run $0 template"
    mkdir -p "$instance/db"
    cp "$TEMPLATE/db/$DB_NAME.sqlite" "$instance/db/$DB_NAME.sqlite"
    write_conf "$instance" "$port"
    # Without TRYTOND_DATABASE_NAMES the first login poisons the pool (see real-systems.md).
    TRYTOND_DATABASE_NAMES="$DB_NAME" start_background "$instance" \
        "$VENV/bin/trytond" -c "$instance/trytond.conf"
    local url="http://127.0.0.1:$port"
    if ! wait_for_http "$url/" 30 "$(cat "$instance/server.pid")"; then
        tail -20 "$instance/server.log" >&2
        stop_instance "$instance"
        die "trytond did not become ready on port $port"
    fi
    printf 'url=%s\ndatabase=%s\nuser=admin\npassword=%s\n' "$url" "$DB_NAME" "$ADMIN_PASSWORD"
}

case "${1:-}" in
    install) install ;;
    template) template ;;
    start) shift; start "$@" ;;
    stop) stop_instance "${2:?instance dir}" ;;
    *) die "usage: $0 install|template|start DIR [PORT]|stop DIR" ;;
esac

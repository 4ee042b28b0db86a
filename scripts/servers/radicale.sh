#!/usr/bin/env bash
# Radicale 3.9 CardDAV test server (storage is a folder; no template needed).
#   radicale.sh install            venv with radicale (skipped when done)
#   radicale.sh template           same as install (there is no database to build)
#   radicale.sh start DIR [PORT]   fresh storage in DIR, start radicale, wait until ready;
#                                  prints "url=..." "user=..." "password=..." "addressbook=..."
#   radicale.sh stop DIR           stop the server started in DIR
SERVER_NAME=radicale
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HOME_DIR="$EINKLANG_SERVERS_DIR/radicale"
VENV="$HOME_DIR/venv"
PACKAGES=('radicale==3.9.*')
SPEC="${PACKAGES[*]}"
USER_NAME=einklang
USER_PASSWORD=secret

install() {
    mkdir -p "$HOME_DIR"
    make_venv python3 "$VENV" "$SPEC" "${PACKAGES[@]}"
}

start() {
    local instance="${1:?instance dir}" port="${2:-$(free_port)}"
    [[ -f "$VENV/.einklang-installed" ]] || die "not installed; run $0 install"
    mkdir -p "$instance/collections"
    printf '%s:%s\n' "$USER_NAME" "$USER_PASSWORD" > "$instance/users"
    cat > "$instance/config" <<CONF
[server]
hosts = 127.0.0.1:$port
[auth]
type = htpasswd
htpasswd_filename = $instance/users
htpasswd_encryption = plain
[storage]
filesystem_folder = $instance/collections
[rights]
type = owner_only
[logging]
level = warning
CONF
    start_background "$instance" "$VENV/bin/python" -m radicale --config "$instance/config"
    local url="http://127.0.0.1:$port"
    if ! wait_for_http "$url/.web/" 20 "$(cat "$instance/server.pid")"; then
        tail -20 "$instance/server.log" >&2
        stop_instance "$instance"
        die "radicale did not become ready on port $port"
    fi
    # The address book the tests use; MKCOL answers 405 when it exists already.
    curl -s -o /dev/null -u "$USER_NAME:$USER_PASSWORD" -X MKCOL -H 'Content-Type: application/xml' \
        --data '<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Einklang contacts</D:displayname></D:prop></D:set></D:mkcol>' \
        "$url/$USER_NAME/contacts/"
    printf 'url=%s\nuser=%s\npassword=%s\naddressbook=%s\n' "$url" "$USER_NAME" "$USER_PASSWORD" \
        "$url/$USER_NAME/contacts/"
}

case "${1:-}" in
    install|template) install ;;
    start) shift; start "$@" ;;
    stop) stop_instance "${2:?instance dir}" ;;
    *) die "usage: $0 install|template|start DIR [PORT]|stop DIR" ;;
esac

#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser, Playwright): Playwright cannot download
# its own browser here, so the tests launch /usr/bin/chromium. Idempotent: nothing to do when it
# is installed. Without root (or apt) it says so; the browser tests then skip (fail under CI=true).
SERVER_NAME=chromium
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CHROMIUM="${EINKLANG_CHROMIUM:-/usr/bin/chromium}"

if [[ -x "$CHROMIUM" ]]; then
    log "$CHROMIUM present"
    exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "WARNING: $CHROMIUM is missing and cannot be installed here (needs root and apt-get): apt-get install chromium"
    exit 0
fi
log "installing chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null; } \
    || die "apt-get install chromium failed"
log "$CHROMIUM installed"

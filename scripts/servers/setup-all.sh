#!/usr/bin/env bash
# Install the three test servers and build their template databases.
# Idempotent: a second run only checks markers and takes about a second.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Two lanes at once, one per core: BottleCRM (the longest: its install, then ~2 minutes of Django
# migrations on one core) next to Radicale and Tryton, one after the other. Each log line says
# which server it is about.
"$here/bottlecrm.sh" template &
bottlecrm=$!
status=0
"$here/radicale.sh" install && "$here/tryton.sh" template && "$here/chromium.sh" || status=$?
wait "$bottlecrm" || status=$?
if (( status != 0 )); then
    echo "setup-all: a test server could not be set up (see the ERROR above)" >&2
    exit "$status"
fi
echo "servers ready in ${EINKLANG_SERVERS_DIR:-/work/.einklang-servers}"

#!/usr/bin/env bash
# Install the three test servers and build their template databases.
# Idempotent: a second run only checks markers and takes about a second.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# One after the other on purpose: installs and migrations each want the whole (small) machine.
"$here/radicale.sh" install
"$here/tryton.sh" template
"$here/bottlecrm.sh" template
echo "servers ready in ${EINKLANG_SERVERS_DIR:-/work/.einklang-servers}"

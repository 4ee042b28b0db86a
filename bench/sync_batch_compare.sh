#!/usr/bin/env bash
# Batched sync cycle (issue 14, item 1) against a checkout of main, in the same run:
#   bash bench/sync_batch_compare.sh /tmp/main-checkout [out.jsonl]
# Each configuration runs bench/sync_cycle.py of THIS checkout twice, first with the src of the
# given main checkout on PYTHONPATH ("before"), then with this checkout's ("after"); N = 20,000
# linked records; SQLite files on /dev/shm. k = 10,000 "before" runs once without a warm-up
# round (one cycle takes minutes there); everything else is 3 counted runs after a warm-up.
set -euo pipefail
main_checkout=${1:?path of a checkout of main}
out=${2:-bench-sync-batch.jsonl}
here=$(cd "$(dirname "$0")/.." && pwd)
python=$here/.venv/bin/python
run() {  # label src args...
    local label=$1 src=$2
    shift 2
    echo "# $(date -u +%H:%M:%S) $label $*" >&2
    PYTHONPATH=$src nice "$python" "$here/bench/sync_cycle.py" --sizes 20000 --quiet 3 "$@" |
        grep -v '^#' | sed "s/^{/{\"label\": \"$label\", /" >>"$out"
}
for backend in sqlite postgresql; do
    workdir=()
    [ "$backend" = sqlite ] && workdir=(--workdir /dev/shm)
    run before "$main_checkout/src" --backend "$backend" --changes 1000 --repeat 3 "${workdir[@]}"
    run after "$here/src" --backend "$backend" --changes 1000 --repeat 3 "${workdir[@]}"
    run after "$here/src" --backend "$backend" --changes 10000 --repeat 3 "${workdir[@]}"
    run before "$main_checkout/src" --backend "$backend" --changes 10000 --repeat 1 --no-warmup "${workdir[@]}"
done

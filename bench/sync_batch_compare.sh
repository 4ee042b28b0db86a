#!/usr/bin/env bash
# Batched sync cycle (issue 14, item 1) against a checkout of main, in the same run:
#   bash bench/sync_batch_compare.sh /tmp/main-checkout [out.jsonl]
# Each configuration runs bench/sync_cycle.py of THIS checkout twice, first with the src of the
# given main checkout on PYTHONPATH ("before"), then with this checkout's ("after"); N = 20,000
# linked records; SQLite files on /dev/shm; --statements counts each change cycle's statements.
# Settings (environment): CHANGES (default "1000 10000"), BACKENDS (default "sqlite postgresql";
# empty: none),
# REPEAT (default 3); NO_STATS=1 adds PostgreSQL pairs at k = 1,000 without column statistics
# (--statistics vacuum: row counts known, as after a plain VACUUM with autovacuum off; and
# --statistics none), one run each. A "before" run of k >= 10,000 that
# takes minutes can be made a single run: BEFORE_BIG_ONCE=1.
set -euo pipefail
main_checkout=${1:?path of a checkout of main}
out=${2:-bench-sync-batch.jsonl}
here=$(cd "$(dirname "$0")/.." && pwd)
python=$here/.venv/bin/python
changes=${CHANGES-1000 10000}
backends=${BACKENDS-sqlite postgresql}
repeat=${REPEAT:-3}
run() {  # label src args...
    local label=$1 src=$2
    shift 2
    echo "# $(date -u +%H:%M:%S) $label $* | $(uptime)" >&2
    PYTHONPATH=$src nice -n 5 "$python" "$here/bench/sync_cycle.py" --sizes 20000 --quiet 3 --statements "$@" |
        grep -v '^#' | sed "s/^{/{\"label\": \"$label\", /" >>"$out"
}
for backend in $backends; do
    workdir=()
    [ "$backend" = sqlite ] && workdir=(--workdir /dev/shm)
    for k in $changes; do
        before=(--repeat "$repeat")
        [ "$k" -ge 10000 ] && [ "${BEFORE_BIG_ONCE:-0}" = 1 ] && before=(--repeat 1 --no-warmup)
        run before "$main_checkout/src" --backend "$backend" --changes "$k" "${before[@]}" "${workdir[@]}"
        run after "$here/src" --backend "$backend" --changes "$k" --repeat "$repeat" "${workdir[@]}"
    done
done
if [ "${NO_STATS:-0}" = 1 ]; then
    for statistics in vacuum none; do
        for label in before after; do
            src=$here/src
            [ "$label" = before ] && src=$main_checkout/src
            run "$label-statistics-$statistics" "$src" --backend postgresql --changes 1000 --repeat 1 --no-warmup \
                --statistics "$statistics"
        done
    done
fi

"""The state store's rows of an initial load, with the overview indexes kept up row by row or
built once after the load (``store/load_indexes.py``).

Writes what a load writes to the state store per page (golden records and the source's links
in one transaction, the target's links in a second), through the store's own functions, into a
fresh store (its real schema and pragmas), both ways in alternating order per round. Reports the
CPU time of this process (SQLite works inside it) per record: the inserts, and the index build
at the end.

    .venv/bin/python bench/load_indexes.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from einklang.store import links
from einklang.store.ids import new_golden_ids
from einklang.store.load_indexes import indexes_built_after
from einklang.store.state import open_store

BASE = (
    '{"city":"Berlin","country":"DE","customer_number":"K000000001","email":"info1@firma1.de",'
    '"name":"Firma 1 GmbH","phone":"+49 30 1234567","postal_code":"10115","street":"Hauptstraße 2"}'
)


def one_load(folder: Path, rows: int, page: int, built_after: bool) -> tuple[float, float]:
    """(CPU seconds of the inserts, CPU seconds of building the indexes at the end)."""
    store = open_store(f"sqlite:///{folder / f'state-{built_after}-{time.time_ns()}.db'}")
    deferred = indexes_built_after(store) if built_after else contextlib.nullcontext()
    started = time.process_time()
    with store.bulk_writes():
        deferred.__enter__()
        for first in range(0, rows, page):
            golden_ids = new_golden_ids(min(page, rows - first))
            with store.transaction() as conn:
                links.insert_golden_rows(conn, "company", [(g, BASE, g[:32]) for g in golden_ids])
                links.insert_links(
                    conn, "company", "src", [(g, f"K{first + n:09d}", "v", g[:32]) for n, g in enumerate(golden_ids)]
                )
            with store.transaction() as conn:
                links.insert_links(
                    conn, "company", "tgt", [(g, str(first + n + 1), "v", g[:32]) for n, g in enumerate(golden_ids)]
                )
        inserted = time.process_time()
        deferred.__exit__(None, None, None)
        built = time.process_time()
    store.close()
    return inserted - started, built - inserted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.node()} python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.repeat):
            for built_after in (False, True) if round_ % 2 == 0 else (True, False):
                results[built_after].append(one_load(Path(folder), args.rows, args.page, built_after))
    for built_after, label in ((False, "kept up row by row"), (True, "built after the load")):
        inserts = [i / args.rows * 1e6 for i, _ in results[built_after]]
        builds = [b / args.rows * 1e6 for _, b in results[built_after]]
        print(
            f"{label:22s} inserts {statistics.median(inserts):5.1f} µs/record "
            f"(runs {' / '.join(f'{v:.1f}' for v in inserts)}), "
            f"index build {statistics.median(builds):4.1f} µs/record, "
            f"total {statistics.median(i + b for i, b in zip(inserts, builds, strict=True)):5.1f}"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

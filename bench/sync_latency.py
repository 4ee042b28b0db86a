"""Change-to-visible latency of `einklang sync --every 1` between two PostgreSQL databases.

Scratch databases on 127.0.0.1:5432 (user postgres) are created and dropped again. The ERP
table holds --records rows, loaded into the empty CRM by the initial load; then `einklang sync
--every INTERVAL --json` runs as its own process while

* a writer updates random ERP rows at --rate per second for --seconds, each with a marker value
  in ``name1`` (and ``geaendert_am = now()``), noting the time each update committed;
* a reader polls the CRM every --poll seconds and notes when each marker first became visible.

Latency = visible - committed, both from this process's clock. A marker that the writer
overwrote before einklang read it never reaches the CRM (superseded); those are counted, not
timed. Everything is bounded: the writer stops after --seconds, the reader at most --grace
seconds later, the sync process is stopped with SIGTERM (and killed if it does not stop).

    .venv/bin/python bench/sync_latency.py --rate 100 --seconds 60 --interval 1
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
import sqlalchemy as sa
from sync_cycle import (
    CRM_DDL,
    ERP_COLUMNS,
    ERP_DDL,
    INDEXES,
    bulk_insert,
    drop_databases,
    erp_row,
    fresh_urls,
    load_config,
)

from einklang.store.state import open_store
from einklang.sync.engine import SyncEngine
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector

CLI = Path(sys.executable).with_name("einklang")


def set_up(urls: dict[str, str], records: int) -> None:
    erp = sa.create_engine(urls["erp"])
    with erp.begin() as conn:
        conn.exec_driver_sql(ERP_DDL)
        conn.exec_driver_sql(INDEXES["erp"])
    bulk_insert(erp, "kunden", ERP_COLUMNS, (erp_row(i) for i in range(records)))
    erp.dispose()
    crm = sa.create_engine(urls["crm"])
    with crm.begin() as conn:
        conn.exec_driver_sql(CRM_DDL.format(serial="SERIAL"))
        conn.exec_driver_sql(INDEXES["crm"])
    crm.dispose()
    config = load_config(urls)
    store = open_store(config.state_url)
    with open_connector(config, "erp") as source, open_connector(config, "crm") as target:
        report = run_initial_load(config, store, "company", source, target, batch_size=1000)
        assert report.created == records, report.summary()
        # the first cycle reads the CRM rows the load created back once (as echoes): not timed here
        SyncEngine(config, store, {"erp": source, "crm": target}).run_cycle()
    store.close()


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def writer(
    url: str,
    records: int,
    rate: float,
    seconds: float,
    written: dict[int, tuple[int, float]],
    last_for_row: dict[int, int],
) -> None:
    rng = random.Random(3)
    total = int(rate * seconds)
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        started = time.monotonic()
        for seq in range(total):
            due = started + seq / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            row = rng.randrange(records)
            conn.execute(
                "UPDATE kunden SET name1 = %s, geaendert_am = now() WHERE kundennr = %s", (f"mk{seq}", f"K{row:09d}")
            )
            written[seq] = (row, time.time())
            last_for_row[row] = seq


def reader(url: str, poll: float, seen: dict[int, float], stop: threading.Event) -> None:
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute(
                "SELECT name FROM accounts WHERE updated_at >= now() - interval '30 seconds' AND name LIKE 'mk%%'"
            ).fetchall()
            now = time.time()
            for (name,) in rows:
                seq = int(name[2:])
                seen.setdefault(seq, now)
            stop.wait(poll)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        urls = fresh_urls("postgresql", Path(tmp), "lat")
        process = None
        try:
            set_up(urls, args.records)
            config_path = Path(tmp) / "einklang.yaml"
            config_path.write_text(load_config_text(urls))
            log = (Path(tmp) / "sync.log").open("w")
            process = subprocess.Popen(
                [str(CLI), "sync", "--every", str(args.interval), "--json", "--config", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            time.sleep(3)  # start-up and a first (quiet) cycle
            if process.poll() is not None:
                raise SystemExit(f"sync exited: {(Path(tmp) / 'sync.log').read_text()[-2000:]}")
            written: dict[int, tuple[int, float]] = {}
            last_for_row: dict[int, int] = {}
            seen: dict[int, float] = {}
            stop = threading.Event()
            read_thread = threading.Thread(target=reader, args=(urls["crm"], args.poll, seen, stop))
            read_thread.start()
            writer(urls["erp"], args.records, args.rate, args.seconds, written, last_for_row)
            write_end = time.time()
            final = set(last_for_row.values())  # markers no later write overwrote: must all arrive
            deadline = time.monotonic() + args.grace
            while time.monotonic() < deadline and not final <= set(seen):
                time.sleep(0.1)
            stop.set()
            read_thread.join()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            cycles = []  # the CLI prints one indented JSON document per cycle
            text, position, decoder = (Path(tmp) / "sync.log").read_text(), 0, json.JSONDecoder()
            while (start := text.find("{", position)) >= 0:
                try:
                    document, position = decoder.raw_decode(text, start)
                except json.JSONDecodeError:
                    position = start + 1
                    continue
                if isinstance(document, dict) and document.get("cycle"):
                    cycles.append(document["cycle"])
        finally:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
            drop_databases(urls)
    latencies = [seen[seq] - written[seq][1] for seq in written if seq in seen]
    missing_final = sorted(final - set(seen))
    busy = [c for c in cycles if any(e["captured"] for e in c["entities"])]
    return {
        "records": args.records,
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "interval_s": args.interval,
        "poll_s": args.poll,
        "written": len(written),
        "achieved_rate_per_s": round(len(written) / (write_end - min(w[1] for w in written.values())), 1),
        "visible": len(latencies),
        "superseded_before_sync": len(written) - len(latencies) - len(missing_final),
        "final_markers_missing": len(missing_final),
        "p50_s": round(percentile(latencies, 0.50), 3),
        "p90_s": round(percentile(latencies, 0.90), 3),
        "p99_s": round(percentile(latencies, 0.99), 3),
        "max_s": round(max(latencies), 3),
        "mean_s": round(statistics.mean(latencies), 3),
        "cycles": len(cycles),
        "busy_cycle_s_median": round(statistics.median(c["seconds"] for c in busy), 3) if busy else None,
        "busy_cycle_s_max": round(max(c["seconds"] for c in busy), 3) if busy else None,
        "captured_per_busy_cycle_max": max(sum(e["captured"] for e in c["entities"]) for c in busy) if busy else None,
        "captured_per_busy_cycle_median": statistics.median(sum(e["captured"] for e in c["entities"]) for c in busy)
        if busy
        else None,
        "target_p99_le_interval_plus_1s": percentile(latencies, 0.99) <= args.interval + 1,
    }


def load_config_text(urls: dict[str, str]) -> str:
    from sync_cycle import CONFIG

    return CONFIG.format(state=urls["state"], erp=urls["erp"], crm=urls["crm"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="ERP updates per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0, help="einklang sync --every")
    parser.add_argument("--poll", type=float, default=0.02, help="reader poll interval")
    parser.add_argument("--grace", type=float, default=20.0, help="max wait for the last markers")
    args = parser.parse_args()
    print(f"# {platform.node()} {platform.processor() or platform.machine()} python {platform.python_version()}")
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()

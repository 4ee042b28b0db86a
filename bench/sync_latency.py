"""Change-to-visible latency of `einklang sync --every 1` between two PostgreSQL databases.

Scratch databases on 127.0.0.1:5432 (user postgres) are created and dropped again. The ERP
table holds --records rows, loaded into the empty CRM by the initial load; then `einklang sync
--every INTERVAL --json` runs as its own process while

* a writer updates random ERP rows at --rate per second for --seconds, each with a marker value
  in ``name1`` (and ``geaendert_am = now()``), noting the time each update committed; the
  updates due at the same moment are committed together (one transaction), so 1,000/s does not
  need 1,000 commits/s of one connection;
* a trigger on the CRM table logs each marker einklang writes into a queue table (in
  einklang's own write transaction, so a log row becomes visible when its write commits), and a
  reader takes the committed log rows every --poll seconds (``DELETE ... RETURNING``: each poll
  returns only what is new, so polling stays cheap at 1,000 changes/s) and notes when each
  marker first became visible.

Latency = visible - committed, both from this process's clock. A marker that the writer
overwrote before einklang read it never reaches the CRM (superseded); those are counted, not
timed. The sync process's JSON lines are read as they come, so each cycle's end time is known:
the report gives the busy cycles' lengths and the gaps between cycles (the interval wait).
Everything is bounded: the writer stops after --seconds, the reader at most --grace seconds
later, the sync process is stopped with SIGTERM (and killed if it does not stop).

    .venv/bin/python bench/sync_latency.py --rate 100 --seconds 60 --interval 1
    .venv/bin/python bench/sync_latency.py --rate 1000 --seconds 60 --interval 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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
    """Updates at ``rate``/s; those due by now are committed together, each noted at its commit."""
    rng = random.Random(3)
    total = int(rate * seconds)
    seq = 0
    with psycopg.connect(libpq(url)) as conn:
        started = time.monotonic()
        while seq < total:
            due = min(total, int((time.monotonic() - started) * rate) + 1)
            if due <= seq:
                time.sleep(max(0.0, started + seq / rate - time.monotonic()))
                continue
            batch = [(number, rng.randrange(records)) for number in range(seq, due)]
            with conn.cursor() as cursor:
                cursor.executemany(
                    "UPDATE kunden SET name1 = %s, geaendert_am = now() WHERE kundennr = %s",
                    [(f"mk{number}", f"K{row:09d}") for number, row in batch],
                )
            conn.commit()
            committed = time.time()
            for number, row in batch:
                written[number] = (row, committed)
                last_for_row[row] = number
            seq = due


VISIBLE_LOG = """
CREATE TABLE bench_visible (name VARCHAR(80) NOT NULL);
CREATE FUNCTION bench_log_marker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name LIKE 'mk%' AND NEW.name IS DISTINCT FROM OLD.name THEN
        INSERT INTO bench_visible (name) VALUES (NEW.name);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bench_log_marker AFTER UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION bench_log_marker();
"""


def reader(url: str, poll: float, seen: dict[int, float], stop: threading.Event) -> None:
    """Each poll takes the markers whose writes committed since the last one (a queue table)."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute("DELETE FROM bench_visible RETURNING name").fetchall()
            now = time.time()
            for (name,) in rows:
                seen.setdefault(int(name[2:]), now)
            stop.wait(poll)


def cycle_lines(stream: Any, cycles: list[tuple[float, dict[str, Any]]]) -> None:
    """The CLI prints one indented JSON document per cycle: each is noted with the time it ended."""
    decoder = json.JSONDecoder()
    text = ""
    for line in stream:
        text += line
        if line.rstrip() != "}":
            continue
        start = text.find("{")
        try:
            document, _end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        text = ""
        if isinstance(document, dict) and document.get("cycle"):
            cycles.append((time.time(), document["cycle"]))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_processes(urls: dict[str, str]) -> dict[int, float]:
    """The PostgreSQL backends serving the scratch databases now (but this query's), with their CPU time."""
    names = [url.rsplit("/", 1)[1] for url in urls.values()]
    with psycopg.connect(libpq(urls["state"]), autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()", (names,)
        ).fetchall()
    return {pid: cpu_seconds(pid) for (pid,) in pids}


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("inf")  # nothing arrived: no latency to give, the target is missed
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        urls = fresh_urls("postgresql", Path(tmp), f"memlat{os.getpid()}")
        process = None
        try:
            set_up(urls, args.records)
            with psycopg.connect(libpq(urls["crm"]), autocommit=True) as conn:
                conn.execute(VISIBLE_LOG)
            config_path = Path(tmp) / "einklang.yaml"
            config_path.write_text(load_config_text(urls))
            log = (Path(tmp) / "sync.log").open("w")
            process = subprocess.Popen(
                [str(CLI), "sync", "--every", str(args.interval), "--json", "--config", str(config_path)],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            cycles: list[tuple[float, dict[str, Any]]] = []
            log_thread = threading.Thread(target=cycle_lines, args=(process.stdout, cycles), daemon=True)
            log_thread.start()
            # start-up and a first (quiet) cycle: the writer starts once that cycle has reported
            deadline = time.monotonic() + 120
            while not cycles and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if process.poll() is not None or not cycles:
                raise SystemExit(f"sync exited: {(Path(tmp) / 'sync.log').read_text()[-2000:]}")
            written: dict[int, tuple[int, float]] = {}
            last_for_row: dict[int, int] = {}
            seen: dict[int, float] = {}
            stop = threading.Event()
            # CPU of the sync process and of the PostgreSQL backends serving it (before reader and writer connect)
            sync_cpu_start, server_cpu_start = cpu_seconds(process.pid), server_processes(urls)
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
            # the writer's and reader's connections are closed: the backends left serve the sync process
            sync_cpu = cpu_seconds(process.pid) - sync_cpu_start
            server_cpu = sum(cpu - server_cpu_start.get(pid, 0.0) for pid, cpu in server_processes(urls).items())
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            log_thread.join(timeout=5)
            write_start = min(w[1] for w in written.values())
        finally:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
            drop_databases(urls)
    latencies = [seen[seq] - written[seq][1] for seq in written if seq in seen]
    missing_final = sorted(final - set(seen))
    # cycles while the writer ran: their lengths, and the gaps between one cycle's end and the next one's start
    during = [(end, c) for end, c in cycles if write_start <= end <= write_end + 5]
    busy = [c for _end, c in during if any(e["captured"] for e in c["entities"])]
    captured_total = sum(e["captured"] for _end, c in cycles for e in c["entities"])
    gaps = [(end - c["seconds"]) - previous_end for (previous_end, _p), (end, c) in itertools.pairwise(during)]
    if args.cycle_log:
        for end, c in cycles:
            entity = c["entities"][0]
            print(
                f"# cycle ended at {end - write_start:8.2f} s: {c['seconds']:6.2f} s, captured {entity['captured']},"
                f" applied {entity['applied']}, echoes {entity['echoes']}",
                file=sys.stderr,
            )
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
        "max_s": round(max(latencies, default=float("inf")), 3),
        "mean_s": round(statistics.mean(latencies), 3) if latencies else None,
        # CPU seconds of the sync process and of the PostgreSQL backends serving it, from the
        # writer's start until the last marker arrived, per change it captured: the load of the
        # machine stretches wall times, much less these
        "sync_process_cpu_s": round(sync_cpu, 2),
        "postgres_backends_cpu_s": round(server_cpu, 2),
        "captured_total": captured_total,
        "cpu_ms_per_captured_change": {
            "einklang": round(1000 * sync_cpu / max(1, captured_total), 2),
            "postgresql_for_einklang": round(1000 * server_cpu / max(1, captured_total), 2),
        },
        "cycles": len(cycles),
        "cycles_while_writing": len(during),
        "gap_between_cycles_s_median": round(statistics.median(gaps), 3) if gaps else None,
        "gap_between_cycles_s_max": round(max(gaps), 3) if gaps else None,
        "cycle_s_median_while_writing": round(statistics.median(c["seconds"] for _e, c in during), 3)
        if during
        else None,
        "busy_cycle_s_median": round(statistics.median(c["seconds"] for c in busy), 3) if busy else None,
        "busy_cycle_s_max": round(max(c["seconds"] for c in busy), 3) if busy else None,
        "captured_per_busy_cycle_max": max(sum(e["captured"] for e in c["entities"]) for c in busy) if busy else None,
        "captured_per_busy_cycle_median": statistics.median(sum(e["captured"] for e in c["entities"]) for c in busy)
        if busy
        else None,
        "target_p99_le_interval_plus_1s": percentile(latencies, 0.99) <= args.interval + 1,
        # issue 14 item 2: p99 <= 2 s at 100 changes/s, <= 3 s at 1,000 changes/s
        "target_p99_s": 2.0 if args.rate <= 100 else 3.0,
        # every final marker arrived (a run that fell behind for good misses)
        "target_met": not missing_final and percentile(latencies, 0.99) <= (2.0 if args.rate <= 100 else 3.0),
        "uptime_after": _uptime(),
    }


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


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
    parser.add_argument("--grace", type=float, default=120.0, help="max wait for the last markers")
    parser.add_argument("--cycle-log", action="store_true", help="each cycle's end, length and counts (stderr)")
    args = parser.parse_args()
    print(f"# {platform.node()} {platform.processor() or platform.machine()} python {platform.python_version()}")
    print(f"# before: {_uptime()}", flush=True)
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()

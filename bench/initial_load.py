"""Initial load benchmark: einklang's load against a plain SQLAlchemy executemany copy.

Both copy the same rows between the same kind of databases in the same run; the result is the
speed ratio einklang / plain copy (target >= 0.25, issue 14) and, in a separate child process, the
peak RSS of a load of 1,000,000 rows (target <= 300 MB). ``--baseline DIR`` also runs the load of
another source tree (DIR holds its ``einklang`` package, e.g. an export of main's ``src``) in the
same rounds, so a change is measured against what it replaces on the same machine at the same
time; each load runs in a child process with its tree first on ``PYTHONPATH``.

A third contender, the *bookkeeping floor*, writes exactly the rows a load must write (the target
row plus, in the state store, golden record and two links per record, one audit row per batch) straight
through the driver (executemany; COPY on PostgreSQL), without mapping, normalisation or any
Python between: no implementation that keeps einklang's state can be faster than it, so
einklang / floor says how much of the gap is the engine's own cost and floor / plain how much
the design's.

    git archive <commit> src | tar -x -C /tmp/base     # the baseline's source tree
    .venv/bin/python bench/initial_load.py --rows 100000 --backend sqlite --repeat 3 --baseline /tmp/base/src
    .venv/bin/python bench/initial_load.py --rows 100000 --backend postgresql --repeat 3 --baseline /tmp/base/src
    .venv/bin/python bench/initial_load.py --rows 1000000 --backend sqlite --memory-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from einklang.config import parse_config
from einklang.sql_bulk import insert_rows
from einklang.store import schema
from einklang.store.ids import new_golden_ids
from einklang.store.state import open_store
from einklang.sync.initial_load import DEFAULT_LOAD_BATCH, run_initial_load
from einklang.sync.page_mapping import default_workers
from einklang.systems import open_connector

FLOOR_BATCH = DEFAULT_LOAD_BATCH
GOLDEN_COLUMNS = ("id", "entity", "base", "base_hash", "status", "created_at", "updated_at")
LINK_COLUMNS = ("golden_id", "entity", "system", "native_id", "version", "record_hash", "created_at", "updated_at")
ACCOUNT_COLUMNS = (
    "id",
    "external_id",
    "name",
    "address_line",
    "postcode",
    "city",
    "country",
    "phone",
    "email",
    "einklang_id",
)

SOURCE_DDL = """CREATE TABLE kunden (
    kundennr VARCHAR(12) PRIMARY KEY, name1 VARCHAR(80), strasse VARCHAR(80), plz VARCHAR(10),
    ort VARCHAR(60), land VARCHAR(40), telefon VARCHAR(40), email VARCHAR(120),
    geaendert_am TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"""
TARGET_DDL = """CREATE TABLE accounts (
    id {serial} PRIMARY KEY, external_id VARCHAR(12), name VARCHAR(80), address_line VARCHAR(80),
    postcode VARCHAR(10), city VARCHAR(60), country VARCHAR(40), phone VARCHAR(40), email VARCHAR(120),
    einklang_id VARCHAR(36), updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"""

CONFIG = """
state: {state}
systems:
  src: {{connector: sql, url: "{src}"}}
  tgt: {{connector: sql, url: "{tgt}"}}
entities:
  company:
    keys: [customer_number]
    fields: {{customer_number: str, name: str, street: str, postal_code: str, city: str, country: {typed},
              phone: {phone}, email: {email}}}
    systems:
      src:
        table: kunden
        id: kundennr
        changed: geaendert_am
        map: {{customer_number: kundennr, name: name1, street: strasse, postal_code: plz, city: ort,
               country: land, phone: telefon, email: email}}
      tgt:
        table: accounts
        id: id
        changed: updated_at
        correlation: einklang_id
        map: {{customer_number: external_id, name: name, street: address_line, postal_code: postcode,
               city: city, country: country, phone: phone, email: email}}
"""

CITIES = [
    ("10115", "Berlin", "030"),
    ("20095", "Hamburg", "040"),
    ("80331", "München", "089"),
    ("50667", "Köln", "0221"),
    ("04109", "Leipzig", "0341"),
]


def rows(count: int) -> list[dict[str, str]]:
    rng = random.Random(1)
    result = []
    for i in range(count):
        plz, city, prefix = CITIES[i % len(CITIES)]
        result.append(
            {
                "kundennr": f"K{i:09d}",
                "name1": f"Firma {i} GmbH",
                "strasse": f"Hauptstraße {i % 200 + 1}",
                "plz": plz,
                "ort": city,
                "land": "Deutschland",
                "telefon": f"{prefix} {rng.randint(1000000, 9999999)}",
                "email": f"info{i}@firma{i}.de",
            }
        )
    return result


def fresh_databases(backend: str, workdir: Path, tag: str) -> tuple[str, str, str]:
    if backend == "sqlite":
        return (
            f"sqlite:///{workdir / f'src_{tag}.db'}",
            f"sqlite:///{workdir / f'tgt_{tag}.db'}",
            f"sqlite:///{workdir / f'state_{tag}.db'}",
        )
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    urls = []
    with admin.connect() as conn:
        for role in ("src", "tgt", "state"):
            name = f"bench_load_{role}_{tag}"
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
            urls.append(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    admin.dispose()
    return urls[0], urls[1], urls[2]


def prepare(src: str, tgt: str, data: list[dict[str, str]]) -> None:
    serial = "INTEGER" if src.startswith("sqlite") else "SERIAL"
    source = sa.create_engine(src)
    with source.begin() as conn:
        conn.exec_driver_sql(SOURCE_DDL)
        for start in range(0, len(data), 50_000):
            conn.execute(
                sa.text(
                    "INSERT INTO kunden (kundennr, name1, strasse, plz, ort, land, telefon, email) "
                    "VALUES (:kundennr, :name1, :strasse, :plz, :ort, :land, :telefon, :email)"
                ),
                data[start : start + 50_000],
            )
    source.dispose()
    target = sa.create_engine(tgt)
    with target.begin() as conn:
        conn.exec_driver_sql(TARGET_DDL.format(serial=serial))
    target.dispose()


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its children that ended (the mapping workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def plain_copy(src: str, tgt: str) -> tuple[float, float]:
    """The baseline: stream the rows and executemany them into the target, 1,000 at a time."""
    source, target = sa.create_engine(src), sa.create_engine(tgt)
    insert = sa.text(
        "INSERT INTO accounts (external_id, name, address_line, postcode, city, country, phone, email) "
        "VALUES (:kundennr, :name1, :strasse, :plz, :ort, :land, :telefon, :email)"
    )
    started, cpu = time.perf_counter(), cpu_seconds()
    with source.connect() as read, target.begin() as write:
        result = read.execution_options(stream_results=True, yield_per=1000).execute(
            sa.text("SELECT kundennr, name1, strasse, plz, ort, land, telefon, email FROM kunden ORDER BY kundennr")
        )
        for partition in result.mappings().partitions(1000):
            write.execute(insert, [dict(row) for row in partition])
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    source.dispose()
    target.dispose()
    return elapsed, cpu


def bookkeeping_floor(src: str, tgt: str, state: str) -> float:
    """The rows a load must write, through the driver only: the lower bound of any load."""
    store = open_store(state)
    source, target = sa.create_engine(src), sa.create_engine(tgt)
    now = "2026-12-01 00:00:00.000000" if state.startswith("sqlite") else dt.datetime(2026, 12, 1)
    columns = "kundennr, name1, strasse, plz, ort, land, telefon, email, geaendert_am"
    started = time.perf_counter()
    with source.connect() as read:
        result = read.execution_options(stream_results=True, yield_per=FLOOR_BATCH).exec_driver_sql(
            f"SELECT {columns} FROM kunden ORDER BY kundennr"
        )
        next_id = 1
        for partition in result.partitions(FLOOR_BATCH):
            golden_ids = new_golden_ids(len(partition))
            ids = list(range(next_id, next_id + len(partition)))
            next_id += len(partition)
            bases = [json.dumps(row[:8], ensure_ascii=False) for row in partition]
            batch = list(zip(golden_ids, ids, bases, partition, strict=True))
            with store.transaction() as conn:
                insert_rows(
                    conn,
                    schema.golden,
                    GOLDEN_COLUMNS,
                    [(g, "company", b, g[:32], "active", now, now) for g, _, b, _ in batch],
                )
                insert_rows(
                    conn,
                    schema.links,
                    LINK_COLUMNS,
                    [(g, "company", "src", row[0], str(row[8]), g[:32], now, now) for g, _, _, row in batch],
                )
            with target.begin() as write:
                accounts = sa.Table("accounts", sa.MetaData(), autoload_with=write)
                insert_rows(write, accounts, ACCOUNT_COLUMNS, [(i, *row[:8], g) for g, i, _, row in batch])
            with store.transaction() as conn:
                insert_rows(
                    conn,
                    schema.links,
                    LINK_COLUMNS,
                    [(g, "company", "tgt", str(i), "v", g[:32], now, now) for g, i, _, _ in batch],
                )
                records = json.dumps(
                    {
                        "golden_ids": [g for g, _, _, _ in batch],
                        "native_ids": [str(i) for _, i, _, _ in batch],
                        "new": [json.loads(b) for _, _, b, _ in batch],
                    },
                    ensure_ascii=False,
                )
                audit_id = conn.execute(
                    schema.audit.insert().values(
                        ts=dt.datetime(2026, 12, 1), system="tgt", entity="company", op="create_batch",
                        new=records, cause="initial load from src",
                    )
                ).inserted_primary_key[0]  # fmt: skip
                conn.execute(
                    schema.audit_batches.insert().values(
                        audit_id=audit_id, first_golden=golden_ids[0], last_golden=golden_ids[-1]
                    )
                )
    elapsed = time.perf_counter() - started
    source.dispose()
    target.dispose()
    store.close()
    return elapsed


def einklang_load(src: str, tgt: str, state: str, plain_types: bool = False) -> tuple[float, int, float]:
    # plain_types: the engine's own cost, with phone / e-mail / country declared as plain text
    types = ("str", "str", "str") if plain_types else ("country", "phone", "email")
    text = CONFIG.format(state=state, src=src, tgt=tgt, typed=types[0], phone=types[1], email=types[2])
    config = parse_config(text, None, environ={})
    store = open_store(config.state_url)
    started, cpu = time.perf_counter(), cpu_seconds()
    with open_connector(config, "src") as source, open_connector(config, "tgt") as target:
        report = run_initial_load(config, store, "company", source, target)  # the load's own defaults
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    store.close()
    if report.failed or report.aborted:
        raise SystemExit(f"load failed: {report.summary()}")
    return elapsed, report.created, cpu


THIS_TREE = Path(__file__).resolve().parent.parent / "src"


def load_in_child(tree: Path, src: str, tgt: str, state: str, plain_types: bool) -> tuple[float, float, int]:
    """einklang's load of the source tree ``tree``, in a child process: seconds, CPU seconds, records created."""
    command = [sys.executable, __file__, "--load-child", src, tgt, state]
    if plain_types:
        command.append("--plain-types")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["cpu_seconds"]), int(result["created"])


def measure(
    backend: str, count: int, repeat: int, plain_types: bool = False, baseline: Path | None = None
) -> dict[str, object]:
    data = rows(count)
    times: dict[str, list[float]] = {"plain": [], "floor": [], "load": [], "baseline": []}
    cpu: dict[str, list[float]] = {"plain": [], "load": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for i in range(repeat):
            src, tgt, _ = fresh_databases(backend, workdir, f"p{i}")
            prepare(src, tgt, data)
            elapsed, cpu_used = plain_copy(src, tgt)
            times["plain"].append(elapsed)
            cpu["plain"].append(cpu_used)
            src, tgt, state = fresh_databases(backend, workdir, f"f{i}")
            prepare(src, tgt, data)
            times["floor"].append(bookkeeping_floor(src, tgt, state))
            loads = [("load", THIS_TREE)] + ([("baseline", baseline)] if baseline else [])
            for name, tree in loads if i % 2 == 0 else loads[::-1]:  # alternate who goes first
                src, tgt, state = fresh_databases(backend, workdir, f"{name[0]}{i}")
                prepare(src, tgt, data)
                elapsed, cpu_used, created = load_in_child(tree, src, tgt, state, plain_types)
                assert created == count, (name, created, count)
                times[name].append(elapsed)
                cpu[name].append(cpu_used)
    median = {name: statistics.median(values) for name, values in times.items() if values}
    median_cpu = {name: statistics.median(values) for name, values in cpu.items() if values}
    result: dict[str, object] = {
        "backend": backend,
        "rows": count,
        "repeat": repeat,
        "validation": "plain" if plain_types else "full",
        "workers": default_workers(),
        "plain_copy_s": [round(t, 3) for t in times["plain"]],
        "floor_s": [round(t, 3) for t in times["floor"]],
        "einklang_load_s": [round(t, 3) for t in times["load"]],
        "plain_copy_rec_per_s": round(count / median["plain"]),
        "floor_rec_per_s": round(count / median["floor"]),
        "einklang_rec_per_s": round(count / median["load"]),
        "speed_ratio": round(median["plain"] / median["load"], 3),
        "floor_ratio": round(median["plain"] / median["floor"], 3),
        "einklang_vs_floor": round(median["floor"] / median["load"], 3),
        # CPU time of the client processes (the load with its mapping workers; SQLite runs inside
        # them, a PostgreSQL server does not): how much work, whatever else runs on the machine
        "plain_copy_cpu_s": [round(t, 3) for t in cpu["plain"]],
        "einklang_load_cpu_s": [round(t, 3) for t in cpu["load"]],
        "cpu_ratio": round(median_cpu["plain"] / median_cpu["load"], 3),
    }
    if baseline:
        result["baseline"] = str(baseline)
        result["baseline_load_s"] = [round(t, 3) for t in times["baseline"]]
        result["baseline_rec_per_s"] = round(count / median["baseline"])
        result["baseline_speed_ratio"] = round(median["plain"] / median["baseline"], 3)
        result["baseline_load_cpu_s"] = [round(t, 3) for t in cpu["baseline"]]
        result["baseline_cpu_ratio"] = round(median_cpu["plain"] / median_cpu["baseline"], 3)
    return result


def peak_rss_mb() -> int:
    """This process's own peak RSS (VmHWM).

    Not ``ru_maxrss``: on Linux that survives ``fork`` + ``exec`` and would report the parent's
    size at the moment it started the child (the parent holds the generated data set).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


class TreeMemorySampler(threading.Thread):
    """Peak of the summed PSS of this process and its children, sampled in the background."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_mb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop_event.wait(self.interval):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak_mb = max(self.peak_mb, total // (1024 * 1024))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def memory_child(src: str, tgt: str, state: str) -> None:
    """Runs only the load, so its peak RSS is the load's own (the data was generated by the parent)."""
    before = peak_rss_mb()
    sampler = TreeMemorySampler()
    sampler.start()
    elapsed, created, _ = einklang_load(src, tgt, state)
    sampler.stop()
    workers = default_workers()
    # the mapping workers are this process's children (forked); the kernel keeps the largest
    # peak among the children that were waited for. Forked pages they share with this process
    # count in both, so the sum below is an upper bound.
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(
        json.dumps(
            {
                "created": created,
                "seconds": round(elapsed, 1),
                "peak_rss_mb_after_imports": before,
                "peak_rss_mb": peak_rss_mb(),
                "workers": workers,
                "worker_peak_rss_mb": worker_peak,
                "all_processes_peak_mb_upper_bound": peak_rss_mb() + workers * worker_peak,
                # sampled every 0.2 s: proportional set size (shared pages split between the
                # processes sharing them) of this process plus its workers, the honest total
                "all_processes_peak_pss_mb": sampler.peak_mb,
            }
        )
    )


def measure_memory(backend: str, count: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        src, tgt, state = fresh_databases(backend, Path(tmp), "mem")
        data = rows(count)
        prepare(src, tgt, data)
        del data
        out = subprocess.run(
            [sys.executable, __file__, "--child", src, tgt, state], check=True, capture_output=True, text=True
        )
    return {"backend": backend, "rows": count, **json.loads(out.stdout)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plain-types", action="store_true", help="phone/e-mail/country as plain str")
    parser.add_argument("--memory-only", action="store_true", help="only the peak-RSS run (in a child process)")
    parser.add_argument("--baseline", type=Path, help="source tree of a baseline load, run in the same rounds")
    parser.add_argument("--child", nargs=3, metavar=("SRC", "TGT", "STATE"), help=argparse.SUPPRESS)
    parser.add_argument("--load-child", nargs=3, metavar=("SRC", "TGT", "STATE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_child:
        elapsed, created, cpu_used = einklang_load(*args.load_child, plain_types=args.plain_types)
        print(json.dumps({"seconds": elapsed, "created": created, "cpu_seconds": cpu_used}))
        return
    if args.child:
        memory_child(*args.child)
        return
    print(f"# {platform.node()} {platform.processor() or platform.machine()} python {platform.python_version()}")
    if args.memory_only:
        print(json.dumps(measure_memory(args.backend, args.rows)))
        return
    print(json.dumps(measure(args.backend, args.rows, args.repeat, args.plain_types, args.baseline)))


if __name__ == "__main__":
    main()

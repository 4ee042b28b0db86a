"""Throughput of several sync workers (``einklang sync --every --worker``) on one PostgreSQL store.

Set-up: ERP, CRM and state store in three scratch PostgreSQL databases; ``--entities`` entities,
each a pair of tables with ``--records`` linked records (real ``einklang load``). For each run the
W workers are started and left until every entity is leased and the workers idle; then ``--changes``
ERP rows per entity get a new city in one transaction, the clock starts, and it stops when every
one of those values has arrived in the CRM. Runs alternate the modes (so machine noise hits all
alike): one plain ``sync --every`` (the writer lock), 1 worker, 2 workers leasing whole entities,
and with ``--partitions P`` also 1 and 2 workers leasing P partitions of each entity's golden
records; reported: medians of the time, changes/s, and the ratios against 1 worker.

    .venv/bin/python bench/sync_workers.py --entities 2 --records 2000 --changes 2000 --repeat 3
    .venv/bin/python bench/sync_workers.py --entities 1 --records 1000 --changes 1000 --partitions 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from einklang.store import leases

ADMIN = os.environ.get("EINKLANG_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
EINKLANG = [sys.executable, "-m", "einklang"]


def scratch(admin: sa.Engine, label: str) -> str:
    name = f"einklang_bench_{label}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    return sa.make_url(ADMIN).set(database=name).render_as_string(hide_password=False)


def drop(admin: sa.Engine, url: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')


def build(erp_url: str, crm_url: str, entities: list[str], records: int) -> None:
    erp, crm = sa.create_engine(erp_url), sa.create_engine(crm_url)
    for entity in entities:
        with erp.begin() as conn:
            conn.execute(
                sa.text(
                    f"CREATE TABLE b_{entity}_erp (nr VARCHAR(20) PRIMARY KEY, name VARCHAR(80), ort VARCHAR(60), "
                    "geaendert TIMESTAMP(6) NOT NULL DEFAULT now())"
                )
            )
            conn.execute(sa.text(f"CREATE INDEX ON b_{entity}_erp (geaendert, nr)"))
            conn.execute(
                sa.text(f"INSERT INTO b_{entity}_erp (nr, name, ort) VALUES (:nr, :name, 'Bonn')"),
                [{"nr": f"N{i}", "name": f"{entity} {i}"} for i in range(records)],
            )
        with crm.begin() as conn:
            conn.execute(
                sa.text(
                    f"CREATE TABLE b_{entity}_crm (id SERIAL PRIMARY KEY, number VARCHAR(20), name VARCHAR(80), "
                    "city VARCHAR(60), einklang_id VARCHAR(36), changed TIMESTAMP(6) NOT NULL DEFAULT now())"
                )
            )
            conn.execute(sa.text(f"CREATE INDEX ON b_{entity}_crm (changed, id)"))
    erp.dispose()
    crm.dispose()


def config_text(state: str, erp: str, crm: str, entities: list[str]) -> str:
    lines = [f'state: "{state}"', "systems:", f'  erp: {{connector: sql, url: "{erp}"}}']
    lines += [f'  crm: {{connector: sql, url: "{crm}"}}', "entities:"]
    for entity in entities:
        lines += [
            f"  {entity}:",
            "    keys: [number]",
            "    fields: {number: str, name: str, city: str}",
            "    systems:",
            f"      erp: {{table: b_{entity}_erp, id: nr, changed: geaendert,",
            "            map: {number: nr, name: name, city: ort}}",
            f"      crm: {{table: b_{entity}_crm, id: id, changed: changed, correlation: einklang_id,",
            "            map: {number: number, name: name, city: city}}",
        ]
    return "\n".join(lines) + "\n"


def leased(state: sa.Engine, pids: set[int]) -> set[str]:
    with state.connect() as conn:
        if not sa.inspect(conn).has_table("worker_leases"):
            return set()
        held = leases.live_leases(conn)
    return {lease.name for lease in held if int(lease.holder.split(":")[1]) in pids}


def one_run(
    config: Path,
    state: sa.Engine,
    erp: sa.Engine,
    crm: sa.Engine,
    args: argparse.Namespace,
    mode: tuple[int, int],
    run: int,
) -> float:
    """``mode``: (workers, partitions); 0 workers: one plain ``sync --every``."""
    workers, partitions = mode
    entities = [f"e{i}" for i in range(args.entities)]
    options = ["--worker", "--lease", "10", "--partitions", str(partitions)] if workers else []
    procs = [
        subprocess.Popen(
            [*EINKLANG, "sync", "-c", str(config), "--every", "0.2", *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(max(1, workers))
    ]
    try:
        pids = {proc.pid for proc in procs}
        deadline = time.monotonic() + 120
        # every entity (or partition) leased by these workers, and spread as far as they are many
        while workers and len(leased(state, pids)) < len(entities) * partitions:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not lease every entity (or partition) in 120 s")
            time.sleep(0.2)
        time.sleep(3.0)  # let the first cycles (and the 2 s overlap re-read) pass
        city = f"Run{run}"
        with erp.begin() as conn:
            for entity in entities:
                conn.execute(
                    sa.text(f"UPDATE b_{entity}_erp SET ort = :c, geaendert = now() WHERE nr IN :nrs").bindparams(
                        sa.bindparam("nrs", expanding=True)
                    ),
                    {"c": city, "nrs": [f"N{i}" for i in range(args.changes)]},
                )
        started = time.perf_counter()
        target = args.changes * len(entities)
        while True:
            with crm.connect() as conn:
                arrived = sum(
                    conn.execute(
                        sa.text(f"SELECT count(*) FROM b_{entity}_crm WHERE city = :c"), {"c": city}
                    ).scalar_one()
                    for entity in entities
                )
            if arrived >= target:
                return time.perf_counter() - started
            if time.perf_counter() - started > 900:
                raise SystemExit(f"only {arrived} of {target} changes arrived in 900 s")
            time.sleep(0.05)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=2)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=2000, help="changed ERP rows per entity and run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--partitions", type=int, default=1, help="also run 1 and 2 workers leasing this many partitions per entity"
    )
    parser.add_argument(
        "--short", action="store_true", help="with --partitions: only 1 worker and 2 workers leasing partitions"
    )
    args = parser.parse_args()
    modes = [(0, 1), (1, 1), (2, 1)] + ([(1, args.partitions), (2, args.partitions)] if args.partitions > 1 else [])
    if args.short and args.partitions > 1:
        modes = [(1, 1), (2, args.partitions)]
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    urls = {label: scratch(admin, label) for label in ("erp", "crm", "state")}
    try:
        entities = [f"e{i}" for i in range(args.entities)]
        build(urls["erp"], urls["crm"], entities, args.records)
        folder = Path(tempfile.mkdtemp(prefix="einklang-bench-workers-"))
        config = folder / "einklang.yaml"
        config.write_text(config_text(urls["state"], urls["erp"], urls["crm"], entities), encoding="utf-8")
        for entity in entities:
            subprocess.run(
                [*EINKLANG, "load", entity, "--from", "erp", "--to", "crm", "-c", str(config)],
                check=True,
                capture_output=True,
            )
        state, erp, crm = (sa.create_engine(urls[label]) for label in ("state", "erp", "crm"))
        times: dict[tuple[int, int], list[float]] = {mode: [] for mode in modes}
        run = 0
        for _ in range(args.repeat):
            for mode in modes:
                run += 1
                seconds = one_run(config, state, erp, crm, args, mode, run)
                times[mode].append(seconds)
                workers, partitions = mode
                shown = {"workers": workers, "partitions": partitions, "run": run, "seconds": round(seconds, 3)}
                print(json.dumps(shown), flush=True)
        total = args.changes * args.entities
        medians = {_label(mode): statistics.median(values) for mode, values in times.items()}
        one = medians[_label((1, 1))]
        print(
            json.dumps(
                {
                    "machine": f"{platform.node()} {os.cpu_count()} cpu, Python {platform.python_version()}",
                    "entities": args.entities,
                    "records_per_entity": args.records,
                    "changes_total": total,
                    "median_s": {label: round(s, 3) for label, s in medians.items()},
                    "changes_per_s": {label: round(total / s, 1) for label, s in medians.items()},
                    "speedup_vs_1_worker": {label: round(one / s, 2) for label, s in medians.items()},
                }
            )
        )
        for engine in (state, erp, crm):
            engine.dispose()
    finally:
        for url in urls.values():
            drop(admin, url)


def _label(mode: tuple[int, int]) -> str:
    workers, partitions = mode
    if workers == 0:
        return "plain sync"
    return f"{workers} worker(s)" + (f", {partitions} partitions" if partitions > 1 else "")


if __name__ == "__main__":
    main()

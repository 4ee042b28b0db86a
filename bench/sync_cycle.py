"""Sync cycle benchmark: cycle time with k changes among N linked records, and a quiet cycle.

ERP (``kunden``) <-> CRM (``accounts``) through the ``sql`` connector, state store on the same
backend. The N linked records are set up in bulk, in the shape the initial load writes (golden
rows with the ERP's canonical record as base, one link per system with the native version and
the canonical record hash, cursors at "now" via ``connector.current_cursor``), not by running
the initial load (too slow at 1M). ``--verify`` runs the real initial load at a small N and
compares its state with the bulk set-up's.

Per N the script reports, as medians over --repeat:

* ``change_cycle_s``: the cycle that captures k changed ERP rows, merges them and writes k
  updates to the CRM (the k rows are changed before the timer starts);
* ``echo_cycle_s``: the cycle after it, which reads those k CRM writes back and drops them as
  echoes;
* ``quiet``: cycles with nothing changed (after the overlap window has passed): cycle total,
  the two connectors' ``read_changes`` alone (same cursors, same run) and the difference.

The ratio time(N_max)/time(N_min) of the change cycle is the "work grows with changes, not
records" check (target <= 1.5); einklang's own quiet-cycle time at N_max has a target < 50 ms.

    .venv/bin/python bench/sync_cycle.py --verify 10000
    .venv/bin/python bench/sync_cycle.py --sizes 10000 1000000 --changes 1000 --repeat 5
    .venv/bin/python bench/sync_cycle.py --sizes 10000 1000000 --backend postgresql --repeat 5
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from einklang.config import LoadedConfig, parse_config
from einklang.model import record_hash, record_json
from einklang.store import changes
from einklang.store import schema as t
from einklang.store.state import StateStore, open_store
from einklang.sync.engine import SyncEngine
from einklang.systems import open_connector

sys.path.insert(0, str(Path(__file__).parent))
from cycle_measures import PeakRss, StatementCounter

ERP_DDL = """CREATE TABLE kunden (
    kundennr VARCHAR(12) PRIMARY KEY, name1 VARCHAR(80), strasse VARCHAR(80), plz VARCHAR(10),
    ort VARCHAR(60), land VARCHAR(40), telefon VARCHAR(40), email VARCHAR(120),
    geaendert_am TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"""
CRM_DDL = """CREATE TABLE accounts (
    id {serial} PRIMARY KEY, external_id VARCHAR(12), name VARCHAR(80), address_line VARCHAR(80),
    postcode VARCHAR(10), city VARCHAR(60), country VARCHAR(40), phone VARCHAR(40), email VARCHAR(120),
    einklang_id VARCHAR(36), updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"""
# a change cursor needs an index on its column (else every cycle scans the table)
INDEXES = {
    "erp": "CREATE INDEX ix_kunden_changed ON kunden (geaendert_am, kundennr)",
    "crm": "CREATE INDEX ix_accounts_changed ON accounts (updated_at, id)",
}
ERP_COLUMNS = ["kundennr", "name1", "strasse", "plz", "ort", "land", "telefon", "email", "geaendert_am"]
CRM_COLUMNS = [
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
    "updated_at",
]

CONFIG = """
state: "{state}"
systems:
  erp: {{connector: sql, url: "{erp}"}}
  crm: {{connector: sql, url: "{crm}"}}
entities:
  company:
    keys: [customer_number]
    fields: {{customer_number: str, name: str, street: str, postal_code: str, city: str, country: country,
              phone: phone, email: email}}
    systems:
      erp:
        table: kunden
        id: kundennr
        changed: geaendert_am
        map: {{customer_number: kundennr, name: name1, street: strasse, postal_code: plz, city: ort,
               country: land, phone: telefon, email: email}}
      crm:
        table: accounts
        id: id
        changed: updated_at
        correlation: einklang_id
        map: {{customer_number: external_id, name: name, street: address_line, postal_code: postcode,
               city: city, country: country, phone: phone, email: email}}
"""

CITIES = [
    ("10115", "Berlin", "30"),
    ("20095", "Hamburg", "40"),
    ("80331", "München", "89"),
    ("50667", "Köln", "221"),
    ("04109", "Leipzig", "341"),
]
EPOCH = dt.datetime(2020, 1, 1)
BATCH = 20_000
PROFILE = False
PROFILE_SORT = "cumulative"
PROFILE_OUT = ""
WARMUP = True
NO_ECHO_MEMO = False
STATEMENTS = False
STATISTICS = "analyze"


# ------------------------------------------------------------------------------ data
def values(i: int) -> dict[str, str]:
    """Row i in already normalised form, so the ERP row, the CRM row the initial load would
    write (``to_native(canonical)``) and the canonical record all hold the same values."""
    plz, city, prefix = CITIES[i % len(CITIES)]
    return {
        "customer_number": f"K{i:09d}",
        "name": f"Firma {i} GmbH",
        "street": f"Hauptstraße {i % 200 + 1}",
        "postal_code": plz,
        "city": city,
        "country": "DE",
        "phone": f"+49{prefix}{(i * 7919) % 9000000 + 1000000}",
        "email": f"info{i}@firma{i}.de",
    }


def stamp(i: int) -> dt.datetime:
    # distinct, old modification times: the cursor's overlap window holds only the newest rows
    return EPOCH + dt.timedelta(seconds=i, microseconds=(i * 37) % 1_000_000)


def erp_row(i: int) -> tuple[Any, ...]:
    v = values(i)
    return (
        v["customer_number"],
        v["name"],
        v["street"],
        v["postal_code"],
        v["city"],
        v["country"],
        v["phone"],
        v["email"],
        stamp(i),
    )


def crm_row(i: int, golden_id: str | None) -> tuple[Any, ...]:
    v = values(i)
    return (
        i + 1,
        v["customer_number"],
        v["name"],
        v["street"],
        v["postal_code"],
        v["city"],
        v["country"],
        v["phone"],
        v["email"],
        golden_id,
        stamp(i) + dt.timedelta(minutes=5),
    )


def golden_ids(count: int) -> list[str]:
    rng = random.Random(7)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


# ------------------------------------------------------------------------------ databases
def fresh_urls(backend: str, workdir: Path, tag: str) -> dict[str, str]:
    if backend == "sqlite":
        return {role: f"sqlite:///{workdir / f'{role}_{tag}.db'}" for role in ("erp", "crm", "state")}
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    urls = {}
    with admin.connect() as conn:
        for role in ("erp", "crm", "state"):
            name = f"bench_sync_{role}_{tag}"
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
            urls[role] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    admin.dispose()
    return urls


def drop_databases(urls: dict[str, str]) -> None:
    if not urls["state"].startswith("postgresql"):
        return
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for url in urls.values():
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    admin.dispose()


def bulk_insert(engine: sa.Engine, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL, executemany in large batches on SQLite; one transaction."""

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for batch in batches():
                    for row in batch:
                        copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            raw = conn.connection.dbapi_connection
            for batch in batches():
                raw.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # type: ignore[union-attr]
                    [tuple(_sqlite_value(v) for v in row) for row in batch],
                )


def _sqlite_value(value: Any) -> Any:
    # the text format SQLAlchemy's SQLite DateTime writes and reads
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, dt.datetime) else value


def make_tables(urls: dict[str, str], count: int, with_crm_rows: bool, ids: list[str]) -> None:
    serial = "INTEGER" if urls["erp"].startswith("sqlite") else "SERIAL"
    erp = sa.create_engine(urls["erp"])
    with erp.begin() as conn:
        conn.exec_driver_sql(ERP_DDL)
        conn.exec_driver_sql(INDEXES["erp"])
    bulk_insert(erp, "kunden", ERP_COLUMNS, (erp_row(i) for i in range(count)))
    erp.dispose()
    crm = sa.create_engine(urls["crm"])
    with crm.begin() as conn:
        conn.exec_driver_sql(CRM_DDL.format(serial=serial))
        conn.exec_driver_sql(INDEXES["crm"])
    if with_crm_rows:
        bulk_insert(crm, "accounts", CRM_COLUMNS, (crm_row(i, ids[i]) for i in range(count)))
        if serial == "SERIAL":
            with crm.begin() as conn:
                conn.exec_driver_sql("SELECT setval('accounts_id_seq', (SELECT max(id) FROM accounts))")
    crm.dispose()


def load_config(urls: dict[str, str]) -> LoadedConfig:
    return parse_config(CONFIG.format(state=urls["state"], erp=urls["erp"], crm=urls["crm"]), None, environ={})


def bulk_state(config: LoadedConfig, store: StateStore, count: int, ids: list[str]) -> None:
    """golden + links exactly as the initial load writes them, then cursors at "now"."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # the ERP's canonical record is the base and both links' hash (values are normalised already);
    # checked against the mapping for a sample so a change in normalisation cannot go unnoticed
    erp_map, crm_map = config.mapping("company", "erp"), config.mapping("company", "crm")
    for i in (0, 1, 2, 3, 4, count // 2, count - 1):
        canonical = values(i)
        native_erp = dict(zip(ERP_COLUMNS, erp_row(i), strict=True))
        native_crm = dict(zip(CRM_COLUMNS, crm_row(i, ids[i]), strict=True))
        assert erp_map.to_canonical(native_erp)[0] == canonical, (erp_map.to_canonical(native_erp), canonical)
        assert crm_map.to_canonical(native_crm)[0] == canonical
        assert crm_map.to_native(canonical) == {
            k: v for k, v in native_crm.items() if k in crm_map.to_native(canonical)
        }

    def golden_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(count):
            canonical = values(i)
            yield (ids[i], "company", record_json(canonical), record_hash(canonical), "active", now, now)

    def link_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(count):
            rhash = record_hash(values(i))
            yield (ids[i], "company", "erp", f"K{i:09d}", stamp(i).isoformat(), rhash, now, now)
            yield (
                ids[i],
                "company",
                "crm",
                str(i + 1),
                (stamp(i) + dt.timedelta(minutes=5)).isoformat(),
                rhash,
                now,
                now,
            )

    bulk_insert(
        store.engine,
        "golden",
        ["id", "entity", "base", "base_hash", "status", "created_at", "updated_at"],
        golden_rows(),
    )
    bulk_insert(
        store.engine,
        "links",
        ["golden_id", "entity", "system", "native_id", "version", "record_hash", "created_at", "updated_at"],
        link_rows(),
    )
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm, store.transaction() as conn:
        for connector in (erp, crm):
            changes.set_cursor(conn, connector.system, "company", connector.current_cursor("company"))
    if store.engine.dialect.name == "postgresql" and STATISTICS != "none":
        # outside a transaction: an ANALYZE in one that is rolled back leaves no column statistics
        # (but the table sizes, written in place), and then the planner took the links' bulk UPDATE
        # through the (entity, system) index: 10,000 rows read per row written (5 s per page).
        # "vacuum": that state on purpose (VACUUM counts the rows, gathers no statistics)
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE" if STATISTICS == "analyze" else "VACUUM")


def state_counts(store: StateStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for table in (t.runs, t.golden, t.links, t.changes, t.outbox, t.audit, t.problems, t.conflicts)
        }


def table_digest(url: str, table: str, key: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {key}").all()
    engine.dispose()
    return str(hash(tuple(tuple(str(v) for v in row) for row in rows)))


def set_up(backend: str, workdir: Path, tag: str, count: int) -> tuple[dict[str, str], LoadedConfig, StateStore]:
    urls = fresh_urls(backend, workdir, tag)
    ids = golden_ids(count)
    make_tables(urls, count, True, ids)
    config = load_config(urls)
    store = open_store(config.state_url)
    bulk_state(config, store, count, ids)
    return urls, config, store


# ------------------------------------------------------------------------------ measuring
def change_erp_rows(url: str, indexes: Sequence[int], tag: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            statement = "UPDATE kunden SET name1 = %s, geaendert_am = now() WHERE kundennr = %s"
            params = [(f"Firma {i} GmbH {tag}", f"K{i:09d}") for i in indexes]
        else:
            statement = "UPDATE kunden SET name1 = ?, geaendert_am = ? WHERE kundennr = ?"
            now = _sqlite_value(dt.datetime.now(dt.UTC).replace(tzinfo=None))
            params = [(f"Firma {i} GmbH {tag}", now, f"K{i:09d}") for i in indexes]
        conn.connection.dbapi_connection.cursor().executemany(statement, params)  # type: ignore[union-attr]
    engine.dispose()


def crm_names(url: str, indexes: Sequence[int]) -> dict[int, str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, name FROM accounts WHERE id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": [i + 1 for i in indexes]},
        ).all()
    engine.dispose()
    return {int(r[0]) - 1: r[1] for r in rows}


def connector_part(config: LoadedConfig, store: StateStore, connectors: dict[str, Any]) -> float:
    """The two systems' change queries alone, from the stored cursors (what a cycle calls)."""
    started = time.perf_counter()
    for name, connector in connectors.items():
        with store.read() as conn:
            cursor = changes.get_cursor(conn, name, "company")
        for _page in connector.read_changes("company", cursor):
            pass
    return time.perf_counter() - started


def measure(backend: str, count: int, changes: int, repeat: int, quiet: int, workdir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    urls, config, store = set_up(backend, workdir, f"n{count}", count)
    setup_s = time.perf_counter() - t0
    print(f"# N={count}: set up in {setup_s:.1f}s", file=sys.stderr, flush=True)
    try:
        connectors = {name: open_connector(config, name) for name in ("erp", "crm")}
        engine = SyncEngine(config, store, connectors)
        if NO_ECHO_MEMO:  # the baseline: every record read again is mapped again
            engine.echo_memo = None  # type: ignore[assignment]
        # correctness of the set-up: the first cycle captures nothing and writes nothing
        before = state_counts(store)
        crm_before = table_digest(urls["crm"], "accounts", "id") if count <= 100_000 else None
        first = engine.run_cycle()
        after = state_counts(store)
        entity = first.entities[0]
        assert entity.captured == 0 and not entity.applied and not entity.created, entity.as_dict()
        assert {k: v for k, v in after.items() if k != "runs"} == {k: v for k, v in before.items() if k != "runs"}
        if crm_before is not None:
            assert table_digest(urls["crm"], "accounts", "id") == crm_before
        setup_check = {
            "first_cycle_captured": entity.captured,
            "first_cycle_echoes": entity.echoes,
            "first_cycle_run_rows_written": after["runs"] - before["runs"],
        }

        quiet_fresh = quiet_cycles(engine, config, store, connectors, quiet)
        rng = random.Random(count)
        change_s, echo_s, details, change_cpu_s = [], [], [], []
        counter = StatementCounter() if STATEMENTS else None
        statement_counts: list[dict[str, Any]] = []
        # round 0 warms caches and is not counted (--no-warmup: skipped)
        for r in range(0 if WARMUP else 1, repeat + 1):
            picked = rng.sample(range(count), changes)
            change_erp_rows(urls["erp"], picked, f"r{r}")
            profiler = cProfile.Profile() if PROFILE and r == 1 else None
            if counter is not None:
                counter.start()
            started, cpu_started = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            with PeakRss() as rss:
                report = engine.run_cycle()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            if profiler:
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats(PROFILE_SORT).print_stats(45)
                if PROFILE_OUT:
                    profiler.dump_stats(PROFILE_OUT)
            if counter is not None and r >= 1:  # the first counted cycle's statements printed
                statement_counts.append(counter.stop(show=r == 1))
            rep = report.entities[0]
            started = time.perf_counter()
            echo = engine.run_cycle()
            echo_elapsed = time.perf_counter() - started
            erep = echo.entities[0]
            assert rep.captured == changes and rep.applied == changes, rep.as_dict()
            assert erep.captured == 0 and not erep.applied, erep.as_dict()
            names = crm_names(urls["crm"], picked)
            assert all(names[i] == f"Firma {i} GmbH r{r}" for i in picked)
            if r >= 1:
                change_cpu_s.append(cpu)
                change_s.append(elapsed)
                echo_s.append(echo_elapsed)
                details.append(
                    {
                        "captured": rep.captured,
                        "applied": rep.applied,
                        "echo_cycle_echoes": erep.echoes,
                        "rss_before_cycle_mb": round(rss.before_mb),
                        "cycle_peak_rss_mb": round(rss.peak_mb),
                    }
                )

        quiet_after = quiet_cycles(engine, config, store, connectors, quiet)
        for connector in connectors.values():
            connector.close()
    finally:
        store.close()
        drop_databases(urls)
    return {
        "backend": backend,
        "records": count,
        "changes": changes,
        "repeat": repeat,
        "setup_s": round(setup_s, 1),
        "setup_check": setup_check,
        "change_cycle_s": [round(x, 3) for x in change_s],
        "change_cycle_median_s": round(statistics.median(change_s), 3),
        # CPU time of this process (einklang, and SQLite, which runs in it): what a loaded machine
        # adds by making the process wait for a core is left out
        "change_cycle_cpu_s": [round(x, 3) for x in change_cpu_s],
        "change_cycle_cpu_median_s": round(statistics.median(change_cpu_s), 3),
        "echo_cycle_s": [round(x, 3) for x in echo_s],
        "echo_cycle_median_s": round(statistics.median(echo_s), 3),
        "cycle_details": details[:1],
        "cycle_peak_rss_mb": max(d["cycle_peak_rss_mb"] for d in details),
        "quiet_fresh": quiet_fresh,
        "quiet_after_burst": quiet_after,
        **({"change_cycle_statements": statement_counts} if statement_counts else {}),
    }


def quiet_cycles(
    engine: SyncEngine, config: LoadedConfig, store: StateStore, connectors: dict[str, Any], count: int
) -> dict[str, Any]:
    """Cycles with nothing changed: total, the connectors' change queries alone, the difference.

    The sql connector re-reads every row within ``overlap_seconds`` (2 s) of its cursor on every
    read, so the rows of the last burst of changes come back as echoes in each quiet cycle."""
    engine.run_cycle()
    totals, parts, runs_written, echoes = [], [], 0, []
    for _ in range(count):
        runs_before = state_counts(store)["runs"]
        started = time.perf_counter()
        report = engine.run_cycle()
        totals.append(time.perf_counter() - started)
        entity = report.entities[0]
        assert entity.captured == 0 and not entity.applied, report.as_dict()
        echoes.append(entity.echoes)
        runs_written += state_counts(store)["runs"] - runs_before
        parts.append(connector_part(config, store, connectors))
    total, part = statistics.median(totals), statistics.median(parts)
    return {
        "cycle_ms": [round(x * 1000, 1) for x in totals],
        "connector_ms": [round(x * 1000, 1) for x in parts],
        "cycle_median_ms": round(total * 1000, 1),
        "connector_median_ms": round(part * 1000, 1),
        "einklang_own_ms": round((total - part) * 1000, 1),
        "echoes_reread_per_cycle": statistics.median(echoes),
        "run_rows_written": runs_written,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quiet", type=int, default=7, help="quiet cycles measured per size")
    parser.add_argument("--workdir", help="folder for the SQLite files (e.g. /dev/shm: no fsync noise)")
    parser.add_argument("--profile", action="store_true", help="cProfile one change cycle (stderr)")
    parser.add_argument("--no-warmup", action="store_true", help="count every round (no uncounted warm-up round first)")
    parser.add_argument("--profile-out", default="", help="also write the profile to this file (pstats)")
    parser.add_argument("--profile-sort", default="cumulative", help="pstats order: cumulative, tottime, ...")
    parser.add_argument("--no-echo-memo", action="store_true", help="baseline: map every record again (no EchoMemo)")
    parser.add_argument(
        "--statements", action="store_true", help="count SQL statements, commits and their time per change cycle"
    )
    parser.add_argument(
        "--statistics",
        choices=["analyze", "vacuum", "none"],
        default="analyze",
        help="PostgreSQL after the set-up: ANALYZE; VACUUM (row counts, no column statistics, as "
        "with autovacuum off and a plain VACUUM); nothing",
    )
    parser.add_argument("--verify", type=int, metavar="N", help="compare the bulk set-up with a real initial load")
    args = parser.parse_args()
    print(f"# {platform.node()} {platform.processor() or platform.machine()} python {platform.python_version()}")
    global PROFILE, PROFILE_SORT, PROFILE_OUT, NO_ECHO_MEMO, WARMUP, STATEMENTS, STATISTICS
    PROFILE, PROFILE_SORT, PROFILE_OUT = args.profile, args.profile_sort, args.profile_out
    STATEMENTS, STATISTICS, NO_ECHO_MEMO = args.statements, args.statistics, args.no_echo_memo
    WARMUP = not args.no_warmup
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        if args.verify:
            from sync_cycle_verify import verify  # it imports this module

            print(json.dumps(verify(args.backend, args.verify, Path(tmp))), flush=True)
            return
        results = []
        for count in args.sizes:
            result = measure(args.backend, count, args.changes, args.repeat, args.quiet, Path(tmp))
            results.append(result)
            print(json.dumps(result), flush=True)
        if len(results) > 1:
            small, large = results[0], results[-1]
            print(
                json.dumps(
                    {
                        "backend": args.backend,
                        "ratio_of": [small["records"], large["records"]],
                        "change_cycle_ratio": round(large["change_cycle_median_s"] / small["change_cycle_median_s"], 3),
                        "echo_cycle_ratio": round(large["echo_cycle_median_s"] / small["echo_cycle_median_s"], 3),
                        "quiet_fresh_einklang_own_ms_at_largest": large["quiet_fresh"]["einklang_own_ms"],
                        "quiet_after_burst_einklang_own_ms_at_largest": large["quiet_after_burst"]["einklang_own_ms"],
                        "targets": {
                            "change_cycle_ratio<=1.5": large["change_cycle_median_s"]
                            <= 1.5 * small["change_cycle_median_s"],
                            "quiet_fresh_own_ms<50": large["quiet_fresh"]["einklang_own_ms"] < 50,
                            "quiet_after_burst_own_ms<50": large["quiet_after_burst"]["einklang_own_ms"] < 50,
                        },
                    }
                ),
                flush=True,
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""How fast the web app's overview and conflict list answer on a large PostgreSQL state store.

Builds, in a scratch PostgreSQL database, the state of a big installation by bulk inserts (COPY):
N golden records of entity ``company``, each linked in two systems (erp, crm), C open conflicts
(plus as many resolved ones), 1,000 sync runs with their summaries, some outbox entries and
review rows. Then it asks the web app (in process, through Starlette's TestClient: routing,
sign-in check, queries, template) for its pages, a warm-up and ``--repeat`` times each, and
prints the medians in milliseconds and as ratios to the cheapest signed-in call of the same run
(``GET /api/v1/me``: session check, no state queries).

    .venv/bin/python bench/web_pages.py --records 1000000 --conflicts 10000 --repeat 7

The database ``einklang_bench_web`` on 127.0.0.1:5432 (user postgres, trust) is dropped and
created again; ``--keep`` skips the build when it already holds the data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import re
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

DATABASE = "einklang_bench_web"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"

CONFIG = f"""
state: {URL}
systems:
  erp: {{connector: memory}}
  crm: {{connector: memory}}
entities:
  company:
    keys: [customer_number]
    fields: {{customer_number: str, name: str, city: str, email: str}}
    systems:
      erp: {{map: {{customer_number: kundennr, name: name, city: ort, email: email}}}}
      crm: {{map: {{customer_number: external_id, name: name, city: city, email: email}}}}
"""
FIELDS = ("name", "city", "email")


def recreate_database() -> None:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.exec_driver_sql(f"CREATE DATABASE {DATABASE}")
    admin.dispose()


def _copy(raw: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def build(records: int, conflicts: int) -> dict[str, Any]:
    from einklang.store.state import open_store

    started = time.perf_counter()
    recreate_database()
    store = open_store(URL)  # the schema through the migrations, indexes included
    now = dt.datetime(2026, 12, 1, 12, 0, 0)
    golden_ids = [str(uuid.UUID(int=i + 1)) for i in range(records)]

    def base(i: int) -> str:
        return json.dumps(
            {
                "customer_number": f"K{i:07d}",
                "name": f"Firma {i} GmbH",
                "city": "Berlin",
                "email": f"info{i}@firma{i}.de",
            }
        )

    raw = store.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        _copy(
            driver,
            "golden",
            ("id", "entity", "base", "base_hash", "status", "created_at", "updated_at"),
            ((gid, "company", base(i), f"{i:032x}", "active", now, now) for i, gid in enumerate(golden_ids)),
        )
        for system in ("erp", "crm"):
            _copy(
                driver,
                "links",
                ("golden_id", "entity", "system", "native_id", "version", "record_hash", "created_at", "updated_at"),
                (
                    (gid, "company", system, f"K{i:07d}" if system == "erp" else str(i + 1), "1", f"{i:032x}", now, now)
                    for i, gid in enumerate(golden_ids)
                ),
            )
        step = max(1, records // conflicts)
        _copy(
            driver,
            "conflicts",
            ("entity", "golden_id", "field", "base", "values", "status", "reason", "created_at"),
            (
                (
                    "company",
                    golden_ids[(k * step) % records],
                    FIELDS[k % len(FIELDS)],
                    json.dumps("Berlin"),
                    json.dumps({"erp": f"Ort {k}", "crm": f"Stadt {k}"}),
                    "open" if k < conflicts else "resolved",
                    "changed differently; policy manual: held for a decision",
                    now - dt.timedelta(minutes=k),
                )
                for k in range(2 * conflicts)
            ),
        )
        summary = json.dumps(
            {
                "dry_run": False,
                "seconds": 0.5,
                "entities": [{"entity": "company", "captured": 12, "applied": 10, "conflicts": 1, "unavailable": {}}],
            }
        )
        _copy(
            driver,
            "runs",
            ("kind", "entity", "args", "started_at", "finished_at", "status", "summary"),
            (
                (
                    "sync",
                    None,
                    "{}",
                    now + dt.timedelta(minutes=k),
                    now + dt.timedelta(minutes=k, seconds=1),
                    "ok",
                    summary,
                )
                for k in range(1000)
            ),
        )
        _copy(
            driver,
            "outbox",
            ("system", "entity", "golden_id", "op", "payload", "cause", "status", "attempts", "created_at"),
            (
                (
                    "crm",
                    "company",
                    golden_ids[k],
                    "update",
                    '{"city": "Bonn"}',
                    "bench",
                    "done" if k % 10 else ("pending" if k % 20 else "failed"),
                    1,
                    now,
                )
                for k in range(min(records, 50_000))
            ),
        )
        raw.commit()
    finally:
        raw.close()
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
    with store.transaction() as conn:
        from einklang.web import accounts

        accounts.add_user(conn, "bench", "viewer", "bench-password")
    store.close()
    return {
        "records": records,
        "links": 2 * records,
        "open_conflicts": conflicts,
        "build_s": round(time.perf_counter() - started, 1),
    }


PAGES = (
    ("baseline GET /api/v1/me", "/api/v1/me"),
    ("overview GET /", "/"),
    ("overview panel (htmx poll)", "/overview/panel"),
    ("overview JSON", "/api/v1/overview"),
    ("conflict list, page 1", "/conflicts"),
    ("conflict list, page 100", "/conflicts?page=100"),
    ("conflict list, field=city", "/conflicts?field=city"),
    ("conflict list, system=crm, older than 1 day", "/conflicts?system=crm&older_than_days=1"),
    ("conflicts JSON, page 1", "/api/v1/conflicts"),
)


def measure(repeat: int) -> list[dict[str, Any]]:
    from starlette.testclient import TestClient

    from einklang.config import parse_config
    from einklang.store.state import open_store
    from einklang.web import build_web_app

    loaded = parse_config(CONFIG)
    store = open_store(URL)
    client = TestClient(build_web_app(loaded, store, None))
    token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    signed = client.post(
        "/login", data={"username": "bench", "password": "bench-password", "login_csrf": token.group(1)}
    )
    assert signed.url.path == "/", "sign-in failed"
    results = []
    for label, path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        results.append(
            {
                "page": label,
                "path": path,
                "median_ms": round(statistics.median(timings), 1),
                "runs_ms": [round(t, 1) for t in timings],
            }
        )
    # what the overview would add per request if it counted the linked records itself
    # (einklang.web.counts counts them in the background instead, at most every 30 s)
    from einklang.web.counts import count_linked

    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        count_linked(store, ["company"])
        timings.append((time.perf_counter() - started) * 1000)
    results.append(
        {
            "page": "linked-record count alone (background, not per request)",
            "path": None,
            "median_ms": round(statistics.median(timings), 1),
            "runs_ms": [round(t, 1) for t in timings],
        }
    )
    baseline = results[0]["median_ms"]
    for result in results:
        result["ratio_to_baseline"] = round(result["median_ms"] / baseline, 2)
    store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--conflicts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="measure the database built before")
    args = parser.parse_args()
    if not args.keep:
        print(json.dumps({"built": build(args.records, args.conflicts)}))
    print(
        json.dumps(
            {
                "machine": platform.node(),
                "python": platform.python_version(),
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
    )
    for result in measure(args.repeat):
        print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Initial load with references: 100,000 products in 1,000 groups against 100,000 flat records.

Both loads copy the same products table (SQLite ERP -> empty SQLite CRM) in the same run, with
the same columns. In the *flat* load the group is a plain text field (the group number copied
as it is); in the *reference* load it is ``{type: ref, entity: product_group}``: the ERP's group
number is turned into the golden id of the group and that into the CRM's own group id, for
every record. The groups (1,000) are loaded first in both runs and not timed. Target: the
reference load runs at >= 0.8 times the speed of the flat one (a reference is a dictionary
lookup, not a query per record).

    .venv/bin/python bench/initial_load_refs.py --rows 100000 --groups 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from einklang.config import parse_config
from einklang.store.state import open_store
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector

SOURCE_DDL = [
    "CREATE TABLE warengruppen (nr VARCHAR(10) PRIMARY KEY, bezeichnung VARCHAR(80))",
    """CREATE TABLE artikel (artnr VARCHAR(12) PRIMARY KEY, bezeichnung VARCHAR(120), beschreibung TEXT,
       warengruppe VARCHAR(10) REFERENCES warengruppen(nr), preis NUMERIC(10, 2), einheit VARCHAR(10))""",
]
TARGET_DDL = [
    """CREATE TABLE product_groups (id INTEGER PRIMARY KEY AUTOINCREMENT, code VARCHAR(10), name VARCHAR(80),
       einklang_id VARCHAR(36))""",
    """CREATE TABLE products (id INTEGER PRIMARY KEY AUTOINCREMENT, sku VARCHAR(12), name VARCHAR(120),
       description TEXT, group_ref {group_type}, price NUMERIC(10, 2), unit VARCHAR(10), einklang_id VARCHAR(36))""",
]

CONFIG = """
state: sqlite:///{state}
systems:
  erp: {{connector: sql, url: "sqlite:///{src}"}}
  crm: {{connector: sql, url: "sqlite:///{tgt}"}}
entities:
  product_group:
    keys: [number]
    fields: {{number: str, name: str}}
    systems:
      erp: {{table: warengruppen, id: nr, map: {{number: nr, name: bezeichnung}}}}
      crm: {{table: product_groups, id: id, correlation: einklang_id, map: {{number: code, name: name}}}}
  product:
    keys: [number]
    fields: {{number: str, name: str, description: text, group: {group_field}, price: decimal, unit: str}}
    systems:
      erp:
        table: artikel
        id: artnr
        map: {{number: artnr, name: bezeichnung, description: beschreibung, group: warengruppe, price: preis,
              unit: einheit}}
      crm:
        table: products
        id: id
        correlation: einklang_id
        map: {{number: sku, name: name, description: description, group: group_ref, price: price, unit: unit}}
"""


def prepare(workdir: Path, rows: int, groups: int, with_refs: bool) -> tuple[str, Path]:
    src, tgt, state = workdir / "erp.db", workdir / "crm.db", workdir / "state.db"
    rng = random.Random(7)
    source = sa.create_engine(f"sqlite:///{src}")
    with source.begin() as conn:
        for ddl in SOURCE_DDL:
            conn.exec_driver_sql(ddl)
        conn.execute(
            sa.text("INSERT INTO warengruppen VALUES (:nr, :name)"),
            [{"nr": f"WG{g:04d}", "name": f"Warengruppe {g}"} for g in range(groups)],
        )
        conn.execute(
            sa.text("INSERT INTO artikel VALUES (:nr, :name, :text, :group, :price, :unit)"),
            [
                {
                    "nr": f"A{i:07d}",
                    "name": f"Artikel {i}",
                    "text": f"Beschreibung des Artikels {i}",
                    "group": f"WG{rng.randrange(groups):04d}",
                    "price": f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
                    "unit": "Stk",
                }
                for i in range(rows)
            ],
        )
    source.dispose()
    target = sa.create_engine(f"sqlite:///{tgt}")
    with target.begin() as conn:
        for ddl in TARGET_DDL:
            conn.exec_driver_sql(ddl.format(group_type="INTEGER" if with_refs else "VARCHAR(10)"))
    target.dispose()
    group_field = "{type: ref, entity: product_group}" if with_refs else "str"
    config_path = workdir / "einklang.yaml"
    config_path.write_text(CONFIG.format(state=state, src=src, tgt=tgt, group_field=group_field), encoding="utf-8")
    return str(config_path), tgt


def load(config_path: str, workers: int | None) -> tuple[float, int]:
    """Groups first (not timed), then the products; returns (seconds, products created)."""
    config = parse_config(Path(config_path).read_text(encoding="utf-8"), Path(config_path))
    store = open_store(config.state_url)
    try:
        with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
            groups = run_initial_load(config, store, "product_group", erp, crm)
            assert groups.failed == 0, groups.failures[:3]
            started = time.perf_counter()
            report = run_initial_load(config, store, "product", erp, crm, workers=workers)
            seconds = time.perf_counter() - started
        assert report.failed == 0 and report.waiting == 0, (report.failures[:3], report.waiting)
        return seconds, report.created
    finally:
        store.close()


def check_references(tgt: Path, rows: int) -> None:
    """Every product in the CRM points at the CRM's group with the ERP's group number."""
    engine = sa.create_engine(f"sqlite:///{tgt}")
    with engine.connect() as conn:
        right = conn.execute(
            sa.text(
                "SELECT count(*) FROM products p JOIN product_groups g ON g.id = p.group_ref WHERE g.code IS NOT NULL"
            )
        ).scalar_one()
    engine.dispose()
    assert right == rows, f"{right} of {rows} products point at a CRM group"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="mapping processes (default: the load's own)")
    args = parser.parse_args()
    timings: dict[str, list[float]] = {"flat": [], "refs": []}
    for _ in range(args.repeat):
        for kind in ("flat", "refs"):  # alternating, so that a busy moment of the machine hits both
            with tempfile.TemporaryDirectory() as tmp:
                config_path, tgt = prepare(Path(tmp), args.rows, args.groups, kind == "refs")
                seconds, created = load(config_path, args.workers)
                assert created == args.rows
                if kind == "refs":
                    check_references(tgt, args.rows)
                timings[kind].append(seconds)
    flat, refs = statistics.median(timings["flat"]), statistics.median(timings["refs"])
    result = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}",
        "rows": args.rows,
        "groups": args.groups,
        "flat_seconds": [round(t, 2) for t in timings["flat"]],
        "refs_seconds": [round(t, 2) for t in timings["refs"]],
        "flat_rows_per_s": round(args.rows / flat),
        "refs_rows_per_s": round(args.rows / refs),
        "speed_ratio_refs_to_flat": round(flat / refs, 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""``bench/sync_cycle.py --verify N``: the bulk set-up of the benchmark against a real initial load."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sync_cycle import drop_databases, fresh_urls, load_config, make_tables, set_up

from einklang.store import schema as t
from einklang.store.state import StateStore, open_store
from einklang.sync.initial_load import run_initial_load
from einklang.systems import open_connector


def verify(backend: str, count: int, workdir: Path) -> dict[str, Any]:
    """The real initial load at N=count against the bulk set-up: same golden bases, same link
    hashes and version formats; and the bulk set-up's first cycle captures and writes nothing."""
    urls = fresh_urls(backend, workdir, "load")
    make_tables(urls, count, False, [])
    config = load_config(urls)
    store = open_store(config.state_url)
    started = time.perf_counter()
    with open_connector(config, "erp") as erp, open_connector(config, "crm") as crm:
        report = run_initial_load(config, store, "company", erp, crm, batch_size=1000)
    load_s = time.perf_counter() - started
    assert report.created == count, report.summary()

    def snapshot(store: StateStore) -> dict[str, Any]:
        with store.engine.connect() as conn:
            golden = {row.id: (row.base, row.base_hash, row.status) for row in conn.execute(sa.select(t.golden))}
            links = conn.execute(sa.select(t.links)).all()
            cursors = {row.system: json.loads(row.value) for row in conn.execute(sa.select(t.cursors))}
        erp_links = {r.native_id: r for r in links if r.system == "erp"}
        crm_by_golden = {r.golden_id: r for r in links if r.system == "crm"}
        by_key = {}
        for native_id, link in erp_links.items():
            crm_link = crm_by_golden[link.golden_id]
            by_key[native_id] = {
                "base": golden[link.golden_id][0],
                "base_hash": golden[link.golden_id][1],
                "status": golden[link.golden_id][2],
                "erp_hash": link.record_hash,
                "erp_version": link.version,
                "crm_native": crm_link.native_id,
                "crm_hash": crm_link.record_hash,
                "crm_version_is_timestamp": _is_timestamp(crm_link.version),
                "seen": (link.seen, crm_link.seen),
                "tolerated": (link.tolerated, crm_link.tolerated),
            }
        return {"records": by_key, "cursors": {s: sorted(c) if isinstance(c, dict) else c for s, c in cursors.items()}}

    loaded = snapshot(store)
    store.close()
    drop_databases(urls)
    urls2, _config2, store2 = set_up(backend, workdir, "bulk", count)
    bulk = snapshot(store2)
    store2.close()
    drop_databases(urls2)
    mismatches = [key for key, value in loaded["records"].items() if bulk["records"].get(key) != value]
    assert len(loaded["records"]) == len(bulk["records"]) == count
    # the initial load takes the target's cursor before creating (an empty CRM: None, so the first
    # sync reads the created rows back once as echoes); the bulk set-up starts both at "now"
    assert loaded["cursors"]["erp"] == bulk["cursors"]["erp"], (loaded["cursors"], bulk["cursors"])
    if mismatches:
        key = mismatches[0]
        raise SystemExit(
            f"bulk set-up differs from the initial load for {len(mismatches)} records, e.g. {key}:\n"
            f"load {loaded['records'][key]}\nbulk {bulk['records'][key]}"
        )
    return {
        "backend": backend,
        "records": count,
        "initial_load_s": round(load_s, 1),
        "identical_records": count,
        "compared": "golden base/base_hash/status, link hashes, ERP versions, CRM ids, "
        "CRM version is the row's timestamp, seen/tolerated, ERP cursor shape",
        "cursors_initial_load": loaded["cursors"],
        "cursors_bulk": bulk["cursors"],
    }


def _is_timestamp(value: str | None) -> bool:
    try:
        return value is not None and dt.datetime.fromisoformat(value) is not None
    except ValueError:
        return False

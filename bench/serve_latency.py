"""Edit-to-visible latency under `einklang serve` against `einklang sync --every`, and /metrics cost.

Builds the demo (SQLite ERP, CRM and state store) in a scratch folder, sets every entity's
``sync.interval`` to --interval, then per run and per mode starts the process, edits one ERP
customer's city every --gap seconds (--edits times) and polls the CRM every 20 ms until it shows
the new value. Latency = visible - committed (this process's clock). Modes alternate within each
run so both see the same machine load; the ratio serve / sync --every is computed per run.
While serve runs, /metrics is scraped --scrapes times and the time of each scrape is recorded.

    .venv/bin/python bench/serve_latency.py --runs 3 --edits 15 --interval 1
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

EINKLANG = [sys.executable, "-m", "einklang"]


def build_demo(folder: Path, customers: int, interval: float) -> Path:
    subprocess.run(
        [*EINKLANG, "demo", "--dir", str(folder), "--customers", str(customers), "--json"],
        check=True,
        capture_output=True,
    )
    config = folder / "einklang.yaml"
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    for entity in document["entities"].values():
        entity.setdefault("sync", {})["interval"] = interval
    config.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def crm_city(folder: Path, customer: str) -> str | None:
    with sqlite3.connect(folder / "crm.db", timeout=30) as crm:
        row = crm.execute("SELECT city FROM accounts WHERE external_id = ?", (customer,)).fetchone()
    return None if row is None else row[0]


def measure_edits(folder: Path, customers: list[str], edits: int, gap: float, tag: str) -> list[float]:
    latencies = []
    for number in range(edits):
        customer = customers[number % len(customers)]
        city = f"{tag}-{number}-{time.time_ns()}"
        with sqlite3.connect(folder / "erp.db", timeout=30) as erp:
            erp.execute("UPDATE kunden SET ort = ? WHERE kundennr = ?", (city, customer))
        committed = time.monotonic()
        deadline = committed + 60
        while crm_city(folder, customer) != city:
            if time.monotonic() > deadline:
                raise SystemExit(f"{tag}: edit {number} did not arrive within 60 s")
            time.sleep(0.02)
        latencies.append(time.monotonic() - committed)
        time.sleep(gap)
    return latencies


def run_mode(mode: str, config: Path, args: argparse.Namespace, customers: list[str], tag: str) -> dict[str, Any]:
    folder = config.parent
    port = free_port()
    command = (
        [*EINKLANG, "serve", "-c", str(config), "--port", str(port)]
        if mode == "serve"
        else [*EINKLANG, "sync", "--every", str(args.interval), "-c", str(config)]
    )
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scrapes: list[float] = []
    try:
        if mode == "serve":
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("serve did not answer /healthz within 60 s")
                time.sleep(0.1)
        else:
            time.sleep(2)  # its first cycle
        latencies = measure_edits(folder, customers, args.edits, args.gap, tag)
        if mode == "serve":
            for _ in range(args.scrapes):
                started = time.perf_counter()
                assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).status_code == 200
                scrapes.append(time.perf_counter() - started)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=120)
    return {
        "mode": mode,
        "exit_code": code,
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_max_s": round(max(latencies), 3),
        "metrics_scrape_p50_ms": round(statistics.median(scrapes) * 1000, 1) if scrapes else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--edits", type=int, default=15)
    parser.add_argument("--gap", type=float, default=0.37, help="seconds between edits (not a divisor of 1)")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="einklang-serve-bench-") as scratch:
        config = build_demo(Path(scratch) / "demo", args.customers, args.interval)
        with sqlite3.connect(config.parent / "erp.db") as erp:
            customers = [row[0] for row in erp.execute("SELECT kundennr FROM kunden ORDER BY kundennr LIMIT 20")]
        results = []
        for run in range(args.runs):
            modes = ("sync --every", "serve") if run % 2 == 0 else ("serve", "sync --every")
            measured = {mode: run_mode(mode, config, args, customers, f"r{run}") for mode in modes}
            ratio = measured["serve"]["latency_p50_s"] / measured["sync --every"]["latency_p50_s"]
            line = {"run": run, **{m["mode"]: m for m in measured.values()}, "ratio_p50": round(ratio, 2)}
            print(json.dumps(line), flush=True)
            results.append(line)
    summary = {
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "runs": args.runs,
        "edits_per_run": args.edits,
        "interval_s": args.interval,
        "median_latency_p50_sync_every_s": statistics.median(r["sync --every"]["latency_p50_s"] for r in results),
        "median_latency_p50_serve_s": statistics.median(r["serve"]["latency_p50_s"] for r in results),
        "median_ratio_serve_to_sync_every": statistics.median(r["ratio_p50"] for r in results),
        "median_metrics_scrape_ms": statistics.median(r["serve"]["metrics_scrape_p50_ms"] for r in results),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

"""Start-up time of the command line: `einklang --help`, `--version` and `status` against `python -c pass`.

Every command runs as its own process (what a user waits for), N times, interleaved so that a
burst of load on a shared machine hits all commands alike; the report gives medians and the
ratio to `python -c pass` of the same run. `status` reads a state store of a small demo-like
folder the script builds in a temporary directory (SQLite ERP, CRM and state store, after an
initial load of --customers records and one sync cycle), so it does the real work of a status.

    .venv/bin/python bench/cli_startup.py --runs 15
    .venv/bin/python bench/cli_startup.py --runs 15 --json     # one JSON document
    .venv/bin/python bench/cli_startup.py --source /tmp/old/src # the same, with another checkout's code

Also run with `-X importtime` by hand to see where the time goes:

    .venv/bin/python -X importtime -m einklang status 2>&1 | sort -t'|' -k2 -n | tail
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLI = Path(sys.executable).with_name("einklang")


def build_folder(directory: Path, customers: int) -> Path:
    """The demo's systems, an initial load and one sync cycle (through the CLI, as a user would)."""
    from einklang.demo import scenario

    config = scenario.build(directory, customers)
    for args in (["load", "company", "--from", "erp", "--to", "crm"], ["sync", "--once"]):
        subprocess.run([str(CLI), *args, "-c", str(config), "--json"], check=True, capture_output=True)
    return config


def commands(config: Path) -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "einklang --help": [str(CLI), "--help"],
        "einklang --version": [str(CLI), "--version"],
        "einklang status": [str(CLI), "status", "-c", str(config)],
        "einklang status --json": [str(CLI), "status", "-c", str(config), "--json"],
    }


def measure(
    cmds: dict[str, list[str]], runs: int, source: Path | None = None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock seconds and CPU seconds (user + system of the child) of every run."""
    env = {**os.environ, "COLUMNS": "80"}
    if source is not None:  # another checkout's src/ first on the path (e.g. the code before a change)
        env["PYTHONPATH"] = str(source)
    wall: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    for argv in cmds.values():  # one warm-up each (file system cache, .pyc files)
        subprocess.run(argv, check=True, capture_output=True, env=env)
    for _ in range(runs):
        for name, argv in cmds.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, env=env)
            wall[name].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average": [round(x, 2) for x in load] if load else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="Runs of every command (median of these).")
    parser.add_argument("--customers", type=int, default=300, help="Customers in the demo ERP.")
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    parser.add_argument("--source", type=Path, help="Measure the einklang package in this src/ folder instead.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="einklang-startup-") as tmp:
        config = build_folder(Path(tmp), args.customers)
        load_before = machine()["load_average"]
        cmds = commands(config)
        if args.source is not None:
            cmds.pop("einklang --version")  # older checkouts may not have it
        times, cpu = measure(cmds, args.runs, args.source)
    baseline = statistics.median(times["python -c pass"])
    results = [
        {
            "command": name,
            "median_s": round(statistics.median(values), 4),
            "min_s": round(min(values), 4),
            "max_s": round(max(values), 4),
            "ratio_to_python": round(statistics.median(values) / baseline, 1),
            "cpu_median_s": round(statistics.median(cpu[name]), 4),
            "runs": len(values),
        }
        for name, values in times.items()
    ]
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "load_average_before": load_before},
        "source": str(args.source) if args.source else "installed",
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['date']}  {report['machine']}")
    print(f"{'command':<24} {'median s':>9} {'min s':>7} {'max s':>7} {'x python':>9} {'cpu s':>7}")
    for row in results:
        print(
            f"{row['command']:<24} {row['median_s']:>9.3f} {row['min_s']:>7.3f} {row['max_s']:>7.3f} "
            f"{row['ratio_to_python']:>9.1f} {row['cpu_median_s']:>7.3f}"
        )


if __name__ == "__main__":
    main()

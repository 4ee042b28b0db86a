"""Dedupe time and peak memory at scale: einklang (DuckDB or Spark) against Splink, same data, same run.

Each (tool, size) runs in a fresh child process whose peak RSS is taken from ``os.wait4``, so
every figure is that run's own. The records come from bench/data/german_contacts.py (seed 11),
generated as a stream; einklang reads them as it prepares (as it would read a file) and writes
no pair list, only counts, the way ``einklang dedupe --out`` streams pairs to a file. Splink runs
the recipe of bench/dedupe_quality.py (its tutorial approach: training, then predict at 0.99),
which needs the records as one pandas frame, as Splink's API does.

Usage: python bench/dedupe_scale.py [--sizes 100000,300000] [--tools einklang,splink]
           [--engine duckdb|spark] [--spark-master local[2]] [--repeat 3] [--threads N]
           [--memory-limit 1GB]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def run_einklang(size: int, engine: str, master: str, threads: int | None, memory_limit: str | None) -> dict[str, Any]:
    from data.german_contacts import NORMAL, Generator

    from einklang.match import CONTACT_SPEC, DuckDBBackend, MatchStats, SparkBackend, iter_duplicates, spark_session

    records = ({k: v for k, v in r.items() if k != "entity"} for r in Generator(11, NORMAL).records(size))
    backend: Any
    if engine == "spark":
        backend = SparkBackend(spark_session(master))
    else:
        backend = DuckDBBackend(threads=threads, **({"memory_limit": memory_limit} if memory_limit else {}))
    stats = MatchStats()
    counts = {"duplicate": 0, "possible": 0}
    started = time.perf_counter()
    for pair in iter_duplicates(records, spec=CONTACT_SPEC, backend=backend, stats=stats):
        counts[pair.verdict] += 1
    total = time.perf_counter() - started
    return {
        "prepare_seconds_incl_generation": round(stats.prepare_seconds, 1),
        "score_seconds": round(stats.score_seconds, 1),
        "rules_and_reasons_seconds": round(total - stats.prepare_seconds - stats.score_seconds, 1),
        "total_seconds": round(total, 1),
        "scored_pairs": stats.scored_pairs,
        "kept_after_sql_rules": stats.kept_pairs,
        **counts,
    }


def run_splink(size: int) -> dict[str, Any]:
    from data.german_contacts import generate
    from dedupe_quality import splink_german

    records = generate(size, seed=11)
    started = time.perf_counter()
    scored = splink_german(records)
    total = time.perf_counter() - started
    return {"total_seconds": round(total, 1), "pairs_p>=0.99": sum(1 for _, p in scored if p >= 0.99)}


def child(arguments: argparse.Namespace) -> None:
    if arguments.tool == "splink":
        result = run_splink(arguments.one)
    else:
        result = run_einklang(
            arguments.one, arguments.engine, arguments.spark_master, arguments.threads, arguments.memory_limit
        )
    print(json.dumps(result))


def measure(arguments: argparse.Namespace, tool: str, size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", str(size), "--tool", tool, "--engine", arguments.engine]
    command += ["--spark-master", arguments.spark_master]
    if arguments.threads:
        command += ["--threads", str(arguments.threads)]
    if arguments.memory_limit:
        command += ["--memory-limit", arguments.memory_limit]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        return {"tool": tool, "records": size, "failed": os.waitstatus_to_exitcode(status)}
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    # ru_maxrss of wait4 is the child's own peak (a Spark JVM is a grandchild and not in it).
    peak_mb = usage.ru_maxrss // 1024
    return {"tool": tool, "records": size, "wall_seconds": round(wall, 1), "peak_rss_mb": peak_mb, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--tools", default="einklang,splink")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit (default: einklang's, 1GB)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tool", default="einklang", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        child(arguments)
        return
    for size in (int(s) for s in arguments.sizes.split(",")):
        for tool in arguments.tools.split(","):
            runs = [measure(arguments, tool, size) for _ in range(arguments.repeat)]
            for run in runs:
                print(json.dumps(run), flush=True)
            ok = [run for run in runs if "failed" not in run]
            if ok:
                summary = {
                    "tool": tool,
                    "engine": arguments.engine if tool == "einklang" else "duckdb",
                    "records": size,
                    "median_total_seconds": statistics.median(run["total_seconds"] for run in ok),
                    "median_peak_rss_mb": statistics.median(run["peak_rss_mb"] for run in ok),
                    "runs": len(ok),
                }
                print("SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()

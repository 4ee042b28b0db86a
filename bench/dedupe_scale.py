"""Dedupe time and peak memory at scale: einklang (DuckDB or Spark) against Splink, same data, same run.

Each (tool, size) runs in a fresh child process whose peak RSS is taken from ``os.wait4``, so
every figure is that run's own. The records come from bench/data/german_contacts.py (seed 11),
generated as a stream; einklang reads them as it prepares (as it would read a file) and writes
no pair list, only counts, the way ``einklang dedupe --out`` streams pairs to a file. Splink runs
the recipe of bench/dedupe_quality.py (its tutorial approach: training, then predict at 0.99),
which needs the records as one pandas frame, as Splink's API does.

A run that grows past ``--max-rss-mb`` or runs longer than ``--max-seconds`` is stopped (SIGKILL)
and recorded as such: the machine is shared, and "needed more than X" is the result then.
Each child's stderr (Python tracebacks, Spark's and the JVM's log) goes to a file in ``--log-dir``;
a run that fails or is stopped has the file's name and its last lines in its result row.
``--truth`` has the child write the ids of the pairs it found to a file, and the parent (outside
the measured process) counts how many of the data's true pairs each verdict holds.

Usage: python bench/dedupe_scale.py [--sizes 100000,300000] [--tools einklang,splink]
           [--engine duckdb|spark] [--spark-master local[2]] [--repeat 3] [--threads N]
           [--memory-limit 1GB] [--block-cap 1000] [--max-rss-mb 8000] [--max-seconds 3600]
           [--spark-driver-memory 4g] [--log-dir /tmp/dedupe-scale-logs] [--truth [--keep-pairs]]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def run_einklang(arguments: argparse.Namespace) -> dict[str, Any]:
    from data.german_contacts import NORMAL, Generator

    from einklang.match import CONTACT_SPEC, DuckDBBackend, MatchStats, SparkBackend, iter_duplicates, spark_session

    size = arguments.one
    records = ({k: v for k, v in r.items() if k != "entity"} for r in Generator(11, NORMAL).records(size))
    cap = None if arguments.block_cap == 0 else arguments.block_cap
    backend: Any
    if arguments.engine == "spark":
        config = {"spark.driver.memory": arguments.spark_driver_memory} if arguments.spark_driver_memory else {}
        backend = SparkBackend(spark_session(arguments.spark_master, **config), block_cap=cap)
    else:
        limit = {"memory_limit": arguments.memory_limit} if arguments.memory_limit else {}
        backend = DuckDBBackend(threads=arguments.threads, block_cap=cap, **limit)
    stats = MatchStats()
    counts = {"duplicate": 0, "possible": 0}
    pairs_out = open(arguments.pairs_file, "w", encoding="utf-8") if arguments.pairs_file else None  # noqa: SIM115
    started = time.perf_counter()
    for pair in iter_duplicates(records, spec=CONTACT_SPEC, backend=backend, stats=stats):
        counts[pair.verdict] += 1
        if pairs_out is not None:
            reasons = " | ".join(pair.reasons)
            pairs_out.write(
                f"{pair.a_id}\t{pair.b_id}\t{pair.verdict}\t{pair.score!r}\t{pair.match_weight!r}\t{reasons}\n"
            )
    total = time.perf_counter() - started
    if pairs_out is not None:
        pairs_out.close()
    return {
        "prepare_seconds_incl_generation": round(stats.prepare_seconds, 1),
        "score_seconds": round(stats.score_seconds, 1),
        "rules_and_reasons_seconds": round(total - stats.prepare_seconds - stats.score_seconds, 1),
        "total_seconds": round(total, 1),
        "scored_pairs": stats.scored_pairs,
        "kept_after_sql_rules": stats.kept_pairs,
        **counts,
        "block_cap": cap,
        "capped_keys": {rule: keys for rule, keys in stats.capped_keys.items() if keys},
        "largest_blocks": dict(sorted(stats.largest_block.items(), key=lambda item: -item[1])[:3]),
        "candidate_pairs_bound": stats.pairs_bound,
        "score_slices": stats.score_chunks,
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
    result = run_splink(arguments.one) if arguments.tool == "splink" else run_einklang(arguments)
    print(json.dumps(result))


def measure(arguments: argparse.Namespace, tool: str, size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", str(size), "--tool", tool, "--engine", arguments.engine]
    command += ["--spark-master", arguments.spark_master]
    if arguments.spark_driver_memory:
        command += ["--spark-driver-memory", arguments.spark_driver_memory]
    if arguments.threads:
        command += ["--threads", str(arguments.threads)]
    if arguments.memory_limit:
        command += ["--memory-limit", arguments.memory_limit]
    command += ["--block-cap", str(arguments.block_cap)]
    pairs_file = None
    if arguments.truth and tool == "einklang":
        handle, pairs_file = tempfile.mkstemp(prefix="dedupe-scale-pairs-", suffix=".tsv")
        os.close(handle)
        command += ["--pairs-file", pairs_file]
    log_dir = Path(arguments.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    engine = arguments.engine if tool == "einklang" else "duckdb"
    log_path = log_dir / f"{tool}-{engine}-{size}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output, log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=output, stderr=log)
        killed, tree_peak_mb, cpu, status, usage = _watch(process, arguments.max_rss_mb, arguments.max_seconds)
        wall = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode()
    # ru_maxrss of wait4 is the child's own peak (a Spark JVM is a grandchild and not in it).
    peak_mb = usage.ru_maxrss // 1024
    if killed:
        return {
            "tool": tool,
            "records": size,
            "stopped": killed,
            "after_seconds": round(wall, 1),
            "peak_rss_mb": peak_mb,
            "process_tree_peak_mb": tree_peak_mb,
            "tree_cpu_seconds": round(cpu, 1),
            "stderr_log": str(log_path),
            "stderr_tail": _tail(log_path),
        }
    if os.waitstatus_to_exitcode(status) != 0:
        return {
            "tool": tool,
            "records": size,
            "failed": os.waitstatus_to_exitcode(status),
            "after_seconds": round(wall),
            "peak_rss_mb": peak_mb,
            "process_tree_peak_mb": tree_peak_mb,
            "tree_cpu_seconds": round(cpu, 1),
            "stderr_log": str(log_path),
            "stderr_tail": _tail(log_path),
        }
    result: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    if pairs_file:
        result["truth"] = _recall(size, Path(pairs_file))
        if arguments.keep_pairs:
            result["pairs_file"] = pairs_file
        else:
            os.unlink(pairs_file)
    measured = {"wall_seconds": round(wall, 1), "peak_rss_mb": peak_mb, "process_tree_peak_mb": tree_peak_mb}
    return {
        "tool": tool,
        "records": size,
        **measured,
        "tree_cpu_seconds": round(cpu, 1),
        **result,
        "stderr_log": str(log_path),
    }


def _tail(path: Path, lines: int = 12) -> list[str]:
    """The last ``lines`` lines of a child's stderr, with a Python traceback's or Java error's
    first line kept too (the cause is often above Spark's shutdown chatter)."""
    raw = path.read_text(encoding="utf-8", errors="replace").replace("\r", "\n").splitlines()
    # Spark's console progress bar ("[Stage 49:===>  (4 + 2) / 8]") says only how far it got.
    progress = [line for line in raw if line.startswith("[Stage")]
    text = [line for line in raw if line.strip() and not line.startswith("[Stage")] + progress[-1:]
    causes = [line for line in text if line.startswith(("Traceback", "java.lang.OutOfMemoryError")) or "Error:" in line]
    tail = text[-lines:]
    return [line for line in causes[:3] if line not in tail] + tail


def _tree(pid: int) -> tuple[int, float]:
    """Resident memory (MB) and CPU time (s, user + system, with reaped children) of ``pid`` and
    all its descendants (a Spark JVM), from /proc."""
    total = 0
    cpu_ticks = 0
    pending = [pid]
    while pending:
        one = pending.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):
            pending += [int(child) for child in Path(f"/proc/{one}/task/{one}/children").read_text().split()]
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) // 1024
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            cpu_ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total, cpu_ticks / os.sysconf("SC_CLK_TCK")


def _watch(
    process: subprocess.Popen[bytes], max_rss_mb: int, max_seconds: float
) -> tuple[str | None, int, float, int, Any]:
    """Wait for ``process``; stop it (SIGKILL) past the memory or time cap and say which.

    Also the highest memory of the process tree seen (sampled twice a second; with Spark it
    includes the JVM, which ``ru_maxrss`` does not), the tree's CPU seconds at the last sample
    (a load-independent measure on a shared machine), and ``os.wait4``'s status and usage.
    """
    started = time.monotonic()
    peak = 0
    cpu = 0.0
    stopped = None
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return stopped, peak, max(cpu, usage.ru_utime + usage.ru_stime), status, usage
        rss, tree_cpu = _tree(process.pid)
        peak = max(peak, rss)
        cpu = max(cpu, tree_cpu)
        if stopped is None and rss > max_rss_mb:
            stopped = f"resident memory passed {max_rss_mb} MB"
        elif stopped is None and time.monotonic() - started > max_seconds:
            stopped = f"still running after {max_seconds:.0f} s"
        if stopped:
            process.send_signal(signal.SIGKILL)
        time.sleep(0.5)


def _recall(size: int, pairs_file: Path) -> dict[str, Any]:
    """How many of the data's true pairs (records of one entity) each verdict holds."""
    from data.german_contacts import NORMAL, Generator

    entity = {record["id"]: record["entity"] for record in Generator(11, NORMAL).records(size)}
    sizes: dict[int, int] = {}
    for value in entity.values():
        sizes[value] = sizes.get(value, 0) + 1
    true_pairs = sum(n * (n - 1) // 2 for n in sizes.values())
    found = {"duplicate": [0, 0], "possible": [0, 0]}
    with pairs_file.open(encoding="utf-8") as lines:
        for line in lines:
            a, b, verdict = line.rstrip("\n").split("\t")[:3]
            found[verdict][0 if entity[a] == entity[b] else 1] += 1
    duplicate_true, duplicate_false = found["duplicate"]
    either_true = duplicate_true + found["possible"][0]
    return {
        "true_pairs": true_pairs,
        "duplicate_true": duplicate_true,
        "duplicate_false": duplicate_false,
        "recall_duplicate_or_possible": round(either_true / true_pairs, 4) if true_pairs else None,
        "precision_duplicate": round(duplicate_true / max(1, duplicate_true + duplicate_false), 4),
        "recall_duplicate": round(duplicate_true / true_pairs, 4) if true_pairs else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--tools", default="einklang,splink")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit (default: einklang's, 2GB)")
    parser.add_argument("--block-cap", type=int, default=1000, help="records per blocking key at most (0: no cap)")
    parser.add_argument("--max-rss-mb", type=int, default=8000, help="stop a run whose memory passes this")
    parser.add_argument("--max-seconds", type=float, default=3600, help="stop a run that takes longer")
    parser.add_argument("--truth", action="store_true", help="count the true pairs each verdict holds")
    parser.add_argument("--keep-pairs", action="store_true", help="with --truth: keep the pairs file (to diff engines)")
    parser.add_argument("--spark-driver-memory", default=None, help="spark.driver.memory (local mode: all of Spark)")
    parser.add_argument("--log-dir", default="/tmp/dedupe-scale-logs", help="where each child's stderr goes")
    parser.add_argument("--pairs-file", help=argparse.SUPPRESS)
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
            ok = [run for run in runs if "failed" not in run and "stopped" not in run]
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

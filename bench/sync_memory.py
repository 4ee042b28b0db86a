"""Memory of one sync cycle: k changes among N linked records (issue 14 item 6).

The N linked records are set up in bulk as in ``sync_cycle.py`` (same tables, same state rows),
k random ERP rows are changed, then ONE cycle runs in a fresh process and its peak resident set
size is the kernel's high-water mark of that process (``VmHWM`` in ``/proc/self/status``, which
the child prints as it exits), so nothing the set-up allocated in this process counts. (Not the
child's ``ru_maxrss``: Linux keeps in it the RSS of the parent it was forked from, before the
exec.) This process also samples the child's ``VmRSS`` every 20 ms for a timeline. Peak RSS does
not depend on how loaded the machine is.

One set-up, then one round per ``--children`` entry (k new changes each). The child is the real
CLI (``cli``, the default: ``einklang sync --once --json``) or (``stages``) a small runner in
this file that runs the same engine and notes the RSS when each stage of the cycle ends (capture
per system, merge, send per system); ``tracemalloc`` adds Python's traced memory and its largest
allocation sites (slow).

Afterwards the parent checks that the cycle captured and applied k changes and that a sample of
the CRM rows holds the new values; ``--echo-cycle`` runs the next cycle (which reads the k CRM
writes back) the same way.

    .venv/bin/python bench/sync_memory.py --records 1000000 --changes 100000 --workdir /dev/shm
    .venv/bin/python bench/sync_memory.py --records 20000 --changes 2000 --children cli stages tracemalloc
    .venv/bin/python bench/sync_memory.py --records 1000000 --changes 100000 --backend postgresql
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from sync_cycle import CONFIG, change_erp_rows, crm_names, drop_databases, set_up

TARGET_MB = 300


# ------------------------------------------------------------------------------ children
HWM_LINE = "#sync_memory VmHWM kB:"


def print_hwm_at_exit() -> None:
    """As this process exits: its peak RSS on stderr (one line the parent looks for)."""

    def report() -> None:
        print(HWM_LINE, int(hwm_mb() * 1024), file=sys.stderr, flush=True)

    atexit.register(report)


def run_cli(argv: list[str]) -> None:
    """The real CLI (``einklang ...``) in this process, with its peak RSS printed at exit."""
    print_hwm_at_exit()
    from einklang.cli import main

    sys.argv = ["einklang", *argv]
    sys.exit(main())


def run_stages(config_path: str, trace: bool) -> None:
    """One cycle with the engine's stages wrapped: RSS (and traced memory) when each ends; JSON on stdout."""
    print_hwm_at_exit()
    if trace:
        import tracemalloc

        tracemalloc.start(8)
    from einklang.config import load_config
    from einklang.store.state import open_store
    from einklang.sync import engine as engine_module
    from einklang.systems import open_connector

    marks: list[dict[str, Any]] = []

    def mark(stage: str) -> None:
        entry: dict[str, Any] = {"stage": stage, "rss_mb": round(rss_mb(), 1), "hwm_mb": round(hwm_mb(), 1)}
        if trace:
            current, peak = tracemalloc.get_traced_memory()
            entry["traced_mb"] = round(current / 2**20, 1)
            entry["traced_peak_mb"] = round(peak / 2**20, 1)
        marks.append(entry)

    def wrapped(name: str, function: Any) -> Any:
        def stage(cycle: Any, ctx: Any, *rest: Any) -> Any:
            result = function(cycle, ctx, *rest)
            label = name + (f" {rest[0]}" if rest and isinstance(rest[0], str) else "")
            mark(label)
            return result

        return stage

    engine_module.capture = wrapped("capture", engine_module.capture)  # type: ignore[assignment]
    engine_module.process_changes = wrapped("merge", engine_module.process_changes)  # type: ignore[assignment]
    engine_module.apply_outbox = wrapped("send", engine_module.apply_outbox)  # type: ignore[assignment]

    config = load_config(Path(config_path))
    store = open_store(config.state_url)
    connectors = {name: open_connector(config, name) for name in config.model.systems}
    engine = engine_module.SyncEngine(config, store, connectors)
    mark("ready")
    report = engine.run_cycle()
    mark("cycle done")
    result: dict[str, Any] = {"cycle": report.as_dict(), "marks": marks, "echo_memo_entries": len(engine.echo_memo)}
    if trace:
        snapshot = tracemalloc.take_snapshot()
        result["top_allocations"] = [
            {"size_mb": round(stat.size / 2**20, 2), "count": stat.count, "where": str(stat.traceback[0])}
            for stat in snapshot.statistics("lineno")[:15]
        ]
    for connector in connectors.values():
        connector.close()
    store.close()
    print(json.dumps(result))


# ------------------------------------------------------------------------------ parent
def rss_mb(pid: int | str = "self") -> float:
    return _status_mb(pid, "VmRSS:")


def hwm_mb(pid: int | str = "self") -> float:
    return _status_mb(pid, "VmHWM:")


def _status_mb(pid: int | str, field: str) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def run_child(command: list[str]) -> dict[str, Any]:
    """Run ``command``; its exit status, output, peak RSS (``ru_maxrss``) and a 20 ms VmRSS timeline."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timeline: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            value = rss_mb(process.pid)
            if value:
                timeline.append((round(time.perf_counter() - started, 2), round(value, 1)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(process.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err_chunks.append(process.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    _pid, status, usage = os.wait4(process.pid, 0)  # its ru_maxrss includes the forked parent: not used
    done.set()
    sampler.join()
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = "".join(err_chunks)
    hwm = [line for line in stderr.splitlines() if line.startswith(HWM_LINE)]
    return {
        "exit_code": process.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(int(hwm[-1].split()[-1]) / 1024, 1) if hwm else None,
        "sampled_peak_rss_mb": max((v for _t, v in timeline), default=0.0),
        "timeline": _thin(timeline, 40),
        "stdout": "".join(out_chunks),
        "stderr": stderr[-3000:],
    }


def _thin(timeline: list[tuple[float, float]], points: int) -> list[tuple[float, float]]:
    if len(timeline) <= points:
        return timeline
    step = len(timeline) / points
    return [timeline[int(i * step)] for i in range(points)] + [timeline[-1]]


def cycle_command(child: str, config_path: Path) -> list[str]:
    if child == "cli":
        return [sys.executable, __file__, "--child-cli", "sync", "--once", "--json", "--config", str(config_path)]
    return [sys.executable, __file__, "--child-stages", str(config_path)] + (
        ["--tracemalloc"] if child == "tracemalloc" else []
    )


CHILDREN = {
    "cli": "einklang sync --once --json",
    "stages": "stage runner",
    "tracemalloc": "stage runner + tracemalloc",
}


def cycle_of(output: str) -> dict[str, Any]:
    document = json.loads(output[output.find("{") :])
    cycle: dict[str, Any] = document.get("cycle", document)
    return cycle


def measure(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """One set-up; then per child kind in ``args.children`` one round: k changes, one cycle (and its echo cycle)."""
    t0 = time.perf_counter()
    urls, _config, store = set_up(args.backend, workdir, f"mem{args.records}", args.records)
    store.close()
    setup_s = time.perf_counter() - t0
    print(f"# N={args.records}: set up in {setup_s:.1f}s", file=sys.stderr, flush=True)
    config_path = workdir / "einklang.yaml"
    config_path.write_text(CONFIG.format(state=urls["state"], erp=urls["erp"], crm=urls["crm"]))
    results: list[dict[str, Any]] = []
    rng = random.Random(args.records)
    try:
        # the quiet cycle right after the set-up: the floor of a sync process over these databases
        quiet = run_child(cycle_command("cli", config_path))
        assert quiet["exit_code"] == 0, quiet["stderr"]
        results.append({"backend": args.backend, "records": args.records, "setup_s": round(setup_s, 1)})
        results[0]["quiet_cycle"] = _summary(quiet)
        for number, child in enumerate(args.children):
            result: dict[str, Any] = {
                "backend": args.backend,
                "records": args.records,
                "changes": args.changes,
                "round": number,
                "child": CHILDREN[child],
            }
            picked = rng.sample(range(args.records), args.changes)
            change_erp_rows(urls["erp"], picked, f"r{number}")
            busy = run_child(cycle_command(child, config_path))
            assert busy["exit_code"] == 0, busy["stderr"]
            cycle = _summary(busy)
            entity = cycle["report"]["entities"][0]
            assert entity["captured"] == args.changes and entity["applied"] == args.changes, entity
            sample = picked[:: max(1, len(picked) // 1000)]
            names = crm_names(urls["crm"], sample)
            assert all(names[i] == f"Firma {i} GmbH r{number}" for i in sample), "CRM rows lack the new values"
            result["change_cycle"] = cycle
            if args.echo_cycle:
                echo = run_child(cycle_command(child, config_path))
                assert echo["exit_code"] == 0, echo["stderr"]
                result["echo_cycle"] = _summary(echo)
            peak = max(cycle["peak_rss_mb"], result.get("echo_cycle", {}).get("peak_rss_mb", 0))
            result["target"] = {f"peak_rss_mb<={TARGET_MB}": peak <= TARGET_MB, "peak_rss_mb": peak}
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        drop_databases(urls)
    return results


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    cycle = cycle_of(run["stdout"])
    document = json.loads(run["stdout"][run["stdout"].find("{") :])
    entities = cycle.get("entities", [])
    summary = {
        "seconds": run["seconds"],
        "cpu_s": run["cpu_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        "sampled_peak_rss_mb": run["sampled_peak_rss_mb"],
        "report": {
            "seconds": cycle.get("seconds"),
            "entities": [
                {k: e.get(k) for k in ("entity", "captured", "applied", "echoes", "created")} for e in entities
            ],
        },
        "timeline": run["timeline"],
    }
    for key in ("marks", "echo_memo_entries", "top_allocations"):
        if key in document:
            summary[key] = document[key]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workdir", help="folder for the SQLite files (e.g. /dev/shm)")
    parser.add_argument(
        "--children",
        nargs="+",
        choices=sorted(CHILDREN),
        default=["cli"],
        help="one round per entry: cli = einklang sync --once; stages = RSS when each stage ends; "
        "tracemalloc = stages plus Python's traced memory and top allocation sites",
    )
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--echo-cycle", action="store_true", help="also the next cycle (reads the k writes back)")
    parser.add_argument("--child-stages", metavar="CONFIG", help=argparse.SUPPRESS)
    if sys.argv[1:2] == ["--child-cli"]:
        run_cli(sys.argv[2:])
    args = parser.parse_args()
    if args.child_stages:
        run_stages(args.child_stages, args.tracemalloc)
        return
    print(f"# {platform.node()} {platform.processor() or platform.machine()} python {platform.python_version()}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        print(json.dumps(measure(args, Path(tmp))[0]), flush=True)


if __name__ == "__main__":
    main()

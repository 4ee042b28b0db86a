"""Dedupe time and peak memory of einklang's matcher at 100,000 and 1,000,000 records.

Each size runs in a fresh subprocess so that its peak RSS (resource.getrusage ru_maxrss) is its
own. The records come from bench/data/german_contacts.py (generated in memory; generation time
is reported separately and not counted). Reported: prepare (normalisation), Splink scoring and
post-rules, total, pairs found, and the blocked comparison count.

Usage: python bench/dedupe_scale.py [--sizes 100000,1000000] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def run_one(size: int, threads: int | None) -> dict[str, object]:
    from data.german_contacts import generate

    import einklang.match.matcher as matcher
    from einklang.match import CONTACT_SPEC, DuckDBBackend, find_duplicates

    started = time.perf_counter()
    records = [{k: v for k, v in r.items() if k != "entity"} for r in generate(size, seed=11)]
    generated = time.perf_counter() - started
    rss_after_generation = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    phases: dict[str, float] = {}
    original_prepare, original_score = matcher.prepare, matcher._score

    def timed_prepare(*args: object, **kwargs: object) -> object:
        begin = time.perf_counter()
        result = original_prepare(*args, **kwargs)  # type: ignore[arg-type]
        phases["prepare"] = phases.get("prepare", 0.0) + time.perf_counter() - begin
        return result

    def timed_score(*args: object, **kwargs: object) -> object:
        begin = time.perf_counter()
        result = original_score(*args, **kwargs)  # type: ignore[arg-type]
        phases["splink_predict"] = time.perf_counter() - begin
        phases["scored_pairs"] = float(len(result))
        return result

    matcher.prepare, matcher._score = timed_prepare, timed_score  # type: ignore[assignment]
    started = time.perf_counter()
    pairs = find_duplicates(records, spec=CONTACT_SPEC, backend=DuckDBBackend(threads=threads))
    total = time.perf_counter() - started
    return {
        "records": size,
        "generate_seconds_not_counted": round(generated, 1),
        "prepare_seconds": round(phases["prepare"], 1),
        "splink_predict_seconds": round(phases["splink_predict"], 1),
        "rules_and_reasons_seconds": round(total - phases["prepare"] - phases["splink_predict"], 1),
        "total_seconds": round(total, 1),
        "pairs_scored_above_possible": int(phases["scored_pairs"]),
        "pairs_duplicate": sum(1 for p in pairs if p.verdict == "duplicate"),
        "pairs_possible": sum(1 for p in pairs if p.verdict == "possible"),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_after_generation_mb": round(rss_after_generation / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        print(json.dumps(run_one(arguments.one, arguments.threads)))
        return
    for size in (int(s) for s in arguments.sizes.split(",")):
        command = [sys.executable, __file__, "--one", str(size)]
        if arguments.threads:
            command += ["--threads", str(arguments.threads)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        print(output.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()

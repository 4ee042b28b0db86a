"""Hardening 9: peak memory (RSS) and time of reading a large Outlook CSV.

    .venv/bin/python bench/csv_memory.py --rows 1000000 [--stage inspect read import] [--label after]
        [--repeat 3] [--baseline SRC] [--write bench/RESULTS_readers.md] [--outputs DIR]

The file (Outlook English columns, ~190 bytes a row, every 4th row with an invalid phone) is
generated in a temporary folder. Each stage runs in a child process whose peak RSS is taken from
``os.wait4``:

- ``inspect``: ``einklang inspect FILE --json`` (what the command keeps: counts and problems);
- ``read``: ``read_files`` as ``import`` calls it, keeping every usable row (the first stage of
  ``import``; matching and what follows are not measured here);
- ``import``: the whole ``einklang import FILE --into crm --dry-run`` into the demo's CRM
  (reading, validation, matching within the file and against the CRM's contacts, the plan).
- ``import-write``: the same import for real (creates the contacts, writes the review file),
  into a fresh copy of the demo each time.
- ``dedupe``: ``einklang dedupe FILE --out pairs.csv``.

``--baseline SRC`` also runs every stage with ``PYTHONPATH=SRC`` (the ``src`` folder of the code
before a change, e.g. ``git archive main src | tar -x -C /tmp/base``), alternating with the
current code on the same file, so both are measured in the same run; ``--repeat N`` runs each
stage N times and reports the medians. ``--outputs DIR`` keeps what each run printed (the
import's counts), so that the results of the two versions can be compared.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "First Name,Last Name,Company,Business Phone,E-mail Address,Business City,Business Postal Code,Notes\r\n"

STAGES = {
    "inspect": "import sys\nfrom einklang.cli import app\nsys.argv = ['einklang', 'inspect', sys.argv[1], '--json']\n"
    "app()\n",
    "read": "import sys\nfrom pathlib import Path\nfrom einklang.importer.incoming import read_files\n"
    "reports, rows = read_files([Path(sys.argv[1])])\nprint(len(rows), reports[0].errors)\n",
    "import": "import sys\nfrom einklang.cli import app\n"
    "sys.argv = ['einklang', 'import', sys.argv[1], '--into', 'crm', '--dry-run', '-c', sys.argv[2]]\n"
    "app()\n",
    "import-write": "import sys\nfrom einklang.cli import app\n"
    "sys.argv = ['einklang', 'import', sys.argv[1], '--into', 'crm', '--review', sys.argv[2] + '.review.xlsx', "
    "'--overwrite', '-c', sys.argv[2]]\napp()\n",
    "dedupe": "import sys\nfrom einklang.cli import app\nsys.argv = ['einklang', 'dedupe', sys.argv[1], '--out', "
    "sys.argv[1] + '.pairs.csv']\napp()\n",
}


def demo_config(folder: Path) -> Path:
    """The demo's ERP and CRM (SQLite) with a contact entity: the target of the import stage."""
    from einklang.demo import import_step, scenario

    config = scenario.build(folder, customer_count=30)
    import_step.add_contact_entity(config)
    return config


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(HEADER)
        for index in range(rows):
            phone = "abc" if index % 4 == 0 else f"030 {1000000 + index % 8999999}"
            file.write(
                f"Erika{index},Muster{index % 977},Firma {index % 313} GmbH,{phone},"
                f'erika{index}@example.org,Berlin,{10115 + index % 900},"Notiz zu Kontakt {index}"\r\n'
            )


def run_stage(
    stage: str, path: Path, config: Path | None = None, source: Path | None = None, output: Path | None = None
) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one stage in a child process (``source``: PYTHONPATH;
    ``output``: where its stdout and stderr go, else nowhere)."""
    start = time.perf_counter()
    extra = [str(config)] if config is not None else []
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    with open(output or os.devnull, "w", encoding="utf-8") as sink:
        child = subprocess.Popen(
            [sys.executable, "-c", STAGES[stage], str(path), *extra],
            stdout=sink,
            stderr=sink if output is not None else None,
            env=env,
        )
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stage", choices=sorted(STAGES), nargs="+", default=["inspect", "read"])
    parser.add_argument("--label", default="")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--baseline", type=Path, help="src folder of the code to compare against")
    parser.add_argument("--write", type=Path)
    parser.add_argument("--outputs", type=Path, help="folder for each run's output (to compare the results)")
    args = parser.parse_args()
    versions: list[tuple[str, Path | None]] = [("after", None)]
    if args.baseline is not None:
        versions.insert(0, ("before", args.baseline.resolve()))
    runs: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "outlook.csv"
        write_csv(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"{args.rows} rows, {size_mb:.1f} MB", flush=True)
        config = demo_config(Path(folder) / "demo") if "import" in args.stage else None
        fresh = 0
        for _ in range(args.repeat):
            for stage in args.stage:
                for version, source in versions:
                    target = config
                    if stage == "import-write":
                        fresh += 1
                        target = demo_config(Path(folder) / f"demo-{fresh}")
                    output = None
                    if args.outputs is not None:
                        args.outputs.mkdir(parents=True, exist_ok=True)
                        output = args.outputs / f"{stage}-{version}-{len(runs.get((stage, version), [])) + 1}.txt"
                    result = run_stage(stage, path, target if stage.startswith("import") else None, source, output)
                    runs.setdefault((stage, version), []).append(result)
                    seconds, peak_mb, code = result
                    print(f"{stage} {version}: {seconds:.1f} s, peak RSS {peak_mb:.0f} MB, exit {code}", flush=True)
    rows = []
    for stage in args.stage:
        medians = {}
        for version, _ in versions:
            results = runs[(stage, version)]
            medians[version] = (
                statistics.median(r[0] for r in results),
                statistics.median(r[1] for r in results),
                ",".join(sorted({str(r[2]) for r in results})),
            )
        for version, (seconds, peak, codes) in medians.items():
            ratio = ""
            if version == "after" and "before" in medians:
                before = medians["before"]
                ratio = f" | {seconds / before[0]:.2f} | {peak / before[1]:.2f}"
            elif args.baseline is not None:
                ratio = " | 1.00 | 1.00"
            rows.append(f"| {stage} | {version} | {seconds:.1f} | {peak:.0f} | {codes}{ratio} |")
    header = "| stage | code | seconds | peak RSS MB | exit |"
    rule = "|---|---|---:|---:|---:|"
    if args.baseline is not None:
        header += " time ratio | RSS ratio |"
        rule += "---:|---:|"
    table = [header, rule, *rows]
    print("\n".join(table))
    if args.write:
        lines = [
            f"\n### Large Outlook CSV{f' ({args.label})' if args.label else ''}\n",
            f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
            f"- machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}",
            f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
            f"- file: {args.rows:,} rows, {size_mb:.1f} MB; medians of {args.repeat} run(s)\n",
            *table,
        ]
        with args.write.open("a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

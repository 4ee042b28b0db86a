"""Hardening 8: time to read vCards with long folded values and with large photos.

    .venv/bin/python bench/vcard_unfold.py [--sizes-mb 2 8] [--photos 5 --photo-mb 3] [--repeat 3]
        [--label after] [--write bench/RESULTS_readers.md]

Each case is one generated file read in full through ``read_contacts`` (encoding detection
included); the median of ``--repeat`` runs is printed, and with ``--write`` a section is appended
to the results file. For linear unfolding the ratio of the largest to the smallest folded size
is about the ratio of the sizes (8 MB / 2 MB: ~4); quadratic unfolding gives ~16.
To measure the code before a change, run with PYTHONPATH pointing at its ``src``.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import einklang.importer.readers as readers

CHUNK = "Kundin seit 2019, bevorzugt Telefon; Rückruf nach 14 Uhr erwünscht. "  # some non-ASCII too


def folded_note_card(size: int) -> str:
    """One card whose NOTE is ``size`` characters, folded at 75 octets as RFC 6350 asks."""
    text = (CHUNK * (size // len(CHUNK) + 1))[:size]
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Musterfrau;Erika;;;\r\nFN:Erika Musterfrau\r\n"
        "NOTE:" + "\r\n ".join(lines) + "\r\nEND:VCARD\r\n"
    )


def photo_card(index: int, photo_bytes: int) -> str:
    data = base64.b64encode((bytes(range(256)) * (photo_bytes // 256 + 1))[:photo_bytes]).decode()
    folded = "\r\n ".join(data[i : i + 74] for i in range(0, len(data), 74))
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Muster{index};Erika;;;\r\nFN:Erika Muster{index}\r\n"
        f"PHOTO;ENCODING=b;TYPE=JPEG:{folded}\r\nEMAIL:erika{index}@example.org\r\nEND:VCARD\r\n"
    )


def read_all(path: Path) -> int:
    return sum(1 for item in readers.read_contacts(path) if isinstance(item, readers.ContactRow))


def median_seconds(path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        rows = read_all(path)
        times.append(time.perf_counter() - start)
        assert rows >= 1
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[2.0, 8.0])
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--photo-mb", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--label", default="")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()

    results: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        for size_mb in args.sizes_mb:
            path = Path(folder) / f"note-{size_mb}.vcf"
            path.write_text(folded_note_card(int(size_mb * 1_000_000)), encoding="utf-8", newline="")
            seconds = median_seconds(path, args.repeat)
            results.append((f"one NOTE of {size_mb:g} MB folded", path.stat().st_size / 1e6, seconds))
            print(f"{results[-1][0]}: {seconds:.3f} s", flush=True)
        if args.photos:
            path = Path(folder) / "photos.vcf"
            path.write_text(
                "".join(photo_card(i, int(args.photo_mb * 1_000_000)) for i in range(args.photos)),
                encoding="utf-8",
                newline="",
            )
            seconds = median_seconds(path, args.repeat)
            results.append(
                (f"{args.photos} cards with {args.photo_mb:g} MB photos", path.stat().st_size / 1e6, seconds)
            )
            print(f"{results[-1][0]}: {seconds:.3f} s", flush=True)

    folded = [r for r in results if "NOTE" in r[0]]
    ratio = folded[-1][2] / folded[0][2] if len(folded) > 1 and folded[0][2] > 0 else None
    if ratio is not None:
        print(f"ratio {folded[-1][0]} / {folded[0][0]}: {ratio:.2f}")
    if args.write:
        lines = [
            f"\n### vCard unfolding{f' ({args.label})' if args.label else ''}\n",
            f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
            f"- machine: {platform.node()}, {platform.machine()}, {platform.processor() or 'cpu n/a'}, "
            f"Python {platform.python_version()}",
            f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
            f"- median of {args.repeat} run(s)\n",
            "| case | file MB | median s |",
            "|---|---:|---:|",
            *(f"| {name} | {mb:.2f} | {seconds:.3f} |" for name, mb, seconds in results),
        ]
        if ratio is not None:
            lines.append(f"\nratio {folded[-1][0]} / {folded[0][0]}: **{ratio:.2f}**")
        with args.write.open("a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

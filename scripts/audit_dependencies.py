#!/usr/bin/env python3
"""Check name==version pins against a checkout of pypa/advisory-database: OSV affected[].ranges[].events,
affected[].versions and the legacy "affects" layout; withdrawn files and PYSEC-0000-* drafts are skipped.
Usage: audit_dependencies.py DB_DIR CONSTRAINTS [--include-drafts] [--no-yaml]; exit 1 if any pin is affected.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from functools import cmp_to_key
from pathlib import Path
from typing import Any

EVENT_KEYS = ("introduced", "fixed", "last_affected", "limit")
Event = tuple[str, str]


@dataclass
class Entry:
    name: str = ""
    ranges: list[tuple[str, list[Event]]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)


@dataclass
class Advisory:
    ident: str = ""
    withdrawn: bool = False
    entries: list[Entry] = field(default_factory=list)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def tuple_key(v: str) -> tuple[tuple[float, int, str], ...]:
    parts = [(1.0, int(p), "") if p.isdigit() else (0.0, 0, p.lower()) for p in re.findall(r"\d+|[a-zA-Z]+", v)]
    return (*parts, (0.5, 0, ""))  # a release sorts after its pre-releases and before x.y.1


def compare(a: str, b: str) -> int:
    """-1, 0 or 1. "0" is below every version (OSV convention)."""
    if a == b or a == "0" or b == "0":
        return (a != "0") - (b != "0") if a != b else 0
    try:  # packaging is optional; InvalidVersion is a ValueError
        from packaging.version import Version

        va, vb = Version(a), Version(b)
        return (va > vb) - (va < vb)
    except (ImportError, ValueError):
        pass
    ka, kb = tuple_key(a), tuple_key(b)
    return (ka > kb) - (ka < kb)


def _unq(value: str) -> str:
    value = value.strip()
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"" else value


def scan_yaml(text: str) -> Advisory:
    """Line scanner for the YAML subset of advisory files (used when PyYAML is absent)."""
    adv, top, entry, in_versions, legacy_name = Advisory(), "", Entry(), False, ""
    for raw in (r for r in text.splitlines() if r.strip() and not r.lstrip().startswith("#")):
        body = raw.strip()
        if not raw[0].isspace() and not raw.startswith("-"):  # top-level key
            top, _, val = (x.strip() for x in body.partition(":"))
            adv.ident = _unq(val) if top == "id" else adv.ident
            adv.withdrawn = adv.withdrawn or top == "withdrawn"
            if top == "affects":
                adv.entries.append(entry := Entry())
            continue
        is_item = body.startswith("- ")
        body = body[2:].strip() if is_item else body
        key, sep, val = (x.strip() for x in body.partition(":"))
        legacy_name = _unq(val) if top == "package" and key == "name" else legacy_name
        if top not in ("affected", "affects") or not sep or " " in key:  # "- 1.2.3" has no key
            if top in ("affected", "affects") and in_versions and is_item and not sep:
                entry.versions.append(_unq(body))
            continue
        in_versions = key == "versions"
        if key == "package":
            adv.entries.append(entry := Entry())
        elif key == "name" and not entry.name:
            entry.name = _unq(val)
        elif key == "type":
            entry.ranges.append((_unq(val), []))
        elif key in EVENT_KEYS and entry.ranges:
            entry.ranges[-1][1].append((key, _unq(val)))
    for e in adv.entries:
        e.name = e.name or legacy_name
    return adv


def from_doc(doc: dict[str, Any]) -> Advisory:
    def rng(r: dict[str, Any], events: list[dict[str, Any]]) -> tuple[str, list[Event]]:
        return str(r.get("type", "")), [(k, str(v)) for ev in events for k, v in ev.items() if k in EVENT_KEYS]

    adv = Advisory(str(doc.get("id", "")), bool(doc.get("withdrawn")))
    for a in doc.get("affected") or []:
        ranges = [rng(r, r.get("events") or []) for r in a.get("ranges") or []]
        name = str((a.get("package") or {}).get("name", ""))
        adv.entries.append(Entry(name, ranges, [str(v) for v in a.get("versions") or []]))
    legacy = doc.get("affects")
    if isinstance(legacy, dict):  # 2021-era layout: flat introduced/fixed keys per range
        ranges = [rng(r, [{k: r[k]} for k in EVENT_KEYS if k in r]) for r in legacy.get("ranges") or []]
        name = str((doc.get("package") or {}).get("name", ""))
        adv.entries.append(Entry(name, ranges, [str(v) for v in legacy.get("versions") or []]))
    return adv


def load(path: Path, use_yaml: bool) -> Advisory:
    text = path.read_text(encoding="utf-8")
    if use_yaml:
        try:
            import yaml
        except ImportError:  # PyYAML is optional
            return scan_yaml(text)
        doc = yaml.load(text, Loader=yaml.BaseLoader)  # BaseLoader keeps "1.10" a string, not 1.1
        if isinstance(doc, dict):
            return from_doc(doc)
    return scan_yaml(text)


def evaluate(events: list[Event], pin: str) -> tuple[bool, str, list[str]]:
    """OSV evaluation over sorted events: (affected?, range text, fixed versions)."""
    if not any(k == "introduced" for k, _ in events):
        events = [("introduced", "0"), *events]  # legacy files may give only "fixed"

    def order_key(a: Event, b: Event) -> int:  # at equal versions "fixed" applies before a re-"introduced"
        return compare(a[1], b[1]) or (a[0] == "introduced") - (b[0] == "introduced")

    hit, parts = False, []
    order = sorted(events, key=cmp_to_key(order_key))
    for kind, ver in order:
        parts.append({"introduced": ">=", "last_affected": "<="}.get(kind, "<") + ver)
        c = compare(pin, ver)
        if kind == "introduced" and c >= 0:
            hit = True
        elif (kind in ("fixed", "limit") and c >= 0) or (kind == "last_affected" and c > 0):
            hit = False
    return hit, " ".join(parts), [v for k, v in order if k == "fixed"]


def read_pins(path: Path) -> list[tuple[str, str]]:
    rx = re.compile(r"([A-Za-z0-9][\w.-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)")
    found = (rx.fullmatch(line.split("#", 1)[0].strip()) for line in path.read_text(encoding="utf-8").splitlines())
    return [(m.group(1), m.group(2)) for m in found if m]


def audit(db: Path, constraints: Path, use_yaml: bool = True, drafts: bool = False) -> int:
    vulns = db / "vulns" if (db / "vulns").is_dir() else db
    dirs = {normalize(d.name): d for d in vulns.iterdir() if d.is_dir()}
    print("| package | pinned | advisories in database | affects the pin? | action |\n|---|---|---|---|---|")
    n_affected = n_skipped = 0
    for name, pin in read_pins(constraints):
        folder = dirs.get(normalize(name))
        ids, hits, fixes = list[str](), list[str](), list[str]()
        for f in sorted(folder.glob("*.yaml")) if folder else []:
            adv = load(f, use_yaml)
            ident = adv.ident or f.stem
            if adv.withdrawn or (ident.startswith("PYSEC-0000-") and not drafts):
                n_skipped += 1
                continue
            ids.append(ident)
            for e in (e for e in adv.entries if not e.name or normalize(e.name) == normalize(name)):
                for rtype, events in e.ranges:
                    hit, text, fixed = evaluate(events, pin) if rtype in ("ECOSYSTEM", "SEMVER") else (False, "", [])
                    if hit:
                        hits.append(f"{ident} ({text})")
                        fixes += [v for v in fixed if compare(v, pin) > 0]
                if any(compare(pin, v) == 0 for v in e.versions) and not any(h.startswith(ident + " ") for h in hits):
                    hits.append(f"{ident} (pin listed in versions)")
        action = "none"
        if hits:
            n_affected += 1
            best = min(fixes, key=cmp_to_key(compare)) if fixes else ""
            action = f"upgrade to >= {best}" if best else "no fixed version listed"
        verdict = "**yes**: " + "; ".join(dict.fromkeys(hits)) if hits else "no"
        print(f"| {name} | {pin} | {', '.join(ids) or 'no entries'} | {verdict} | {action} |")
    print(f"\n{n_affected} affected pin(s); {n_skipped} file(s) skipped (withdrawn or PYSEC-0000 drafts).")
    return 1 if n_affected else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Audit name==version pins against pypa/advisory-database.")
    ap.add_argument("db", type=Path, help="checkout of pypa/advisory-database (or its vulns/ folder)")
    ap.add_argument("constraints", type=Path, help="file with name==version lines")
    ap.add_argument("--include-drafts", action="store_true", help="also evaluate PYSEC-0000-* drafts")
    ap.add_argument("--no-yaml", action="store_true", help="use the built-in scanner even if PyYAML is present")
    args = ap.parse_args(argv)
    return audit(args.db, args.constraints, not args.no_yaml, args.include_drafts)


if __name__ == "__main__":
    sys.exit(main())

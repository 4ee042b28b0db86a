"""Hardening 9: what grows with the *pairs* of an import stays out of memory.

A file of one company's colleagues makes many possible pairs, and most of its persons wait for
review beside one another. The pairs (with their reasons) and the held-back persons are kept on
disk and read back a chunk at a time, so the objects alive at any step do not grow with them.
Counted as live objects (``gc``), not by the clock or RSS.
"""

from __future__ import annotations

import csv
import gc
from pathlib import Path
from typing import Any

import pytest

from einklang.config import LoadedConfig
from einklang.importer import outcomes, pipeline
from einklang.importer.merge import MergedContact
from einklang.match import CandidatePair
from einklang.store.state import StateStore
from einklang.systems import open_connector

ROWS = 1200


def _alive(kind: type) -> int:
    return sum(1 for item in gc.get_objects() if isinstance(item, kind))


def test_pairs_and_held_back_persons_are_not_kept_as_objects(
    world: tuple[LoadedConfig, StateStore, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store, _ = world
    file = tmp_path / "colleagues.csv"
    with file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Last Name", "Company", "E-mail Address", "Business Postal Code"])
        writer.writerows(
            [f"Erika{i}", f"Muster{i % 97}", f"Firma {i % 3} GmbH", f"erika{i}@example.org", str(10115 + i % 9)]
            for i in range(ROWS)
        )
    seen: dict[str, tuple[int, int]] = {}
    real_create, real_held_back = pipeline.ImportRun._create_new, outcomes.Outcomes.held_back

    def watched_create(run: pipeline.ImportRun, *args: Any) -> Any:
        seen["create"] = (_alive(CandidatePair), _alive(MergedContact))
        return real_create(run, *args)

    def watched_held_back(self: outcomes.Outcomes, *args: Any) -> Any:
        seen["held back"] = (_alive(CandidatePair), _alive(MergedContact))
        return real_held_back(self, *args)

    monkeypatch.setattr(pipeline.ImportRun, "_create_new", watched_create)
    monkeypatch.setattr(outcomes.Outcomes, "held_back", watched_held_back)
    with open_connector(config, "crm") as connector:
        report = pipeline.run_import(config, store, connector, [file], entity="contact", dry_run=True)
    assert report.persons == ROWS and report.waiting > ROWS // 3, report.summary()
    assert report.created + report.waiting + report.linked == report.persons
    # Before, every possible pair was alive twice (by row, by person) from matching to the end,
    # and every held-back person from the create step to its review row.
    assert seen["create"] == (0, 0), seen
    assert seen["held back"] == (0, 0), seen

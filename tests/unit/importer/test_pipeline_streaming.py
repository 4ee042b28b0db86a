"""The import streams its rows, and answers exactly as it did when it kept every row in memory.

``import_answers.json`` holds what the import answered before it streamed (commit 74f582f, the
whole file in memory) for the demo's exports and for a file whose duplicates lie far apart:
the counts, the dry-run plan, the contacts created and the review file. Batches of a few rows
make every person and pair cross batch boundaries. To write the file again from another version
of the code: ``EINKLANG_WRITE_ANSWERS=1 PYTHONPATH=<its src> pytest <this file>``.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from einklang.config import LoadedConfig
from einklang.importer import pipeline
from einklang.importer.incoming import IncomingRow
from einklang.importer.run_report import ImportReport
from einklang.store.state import StateStore
from einklang.systems import open_connector

ANSWERS = Path(__file__).with_name("import_answers.json")
WRITE = os.environ.get("EINKLANG_WRITE_ANSWERS") == "1"

PEOPLE = [
    ("Jürgen", "Müller", "Nordlicht Logistik GmbH"),
    ("Sabine", "Krause", "Hansa Druck AG"),
    ("Thomas", "Becker", "Becker & Söhne KG"),
    ("Anna", "Schmidt", "Alster Consulting"),
    ("Ralf", "Weber", "Weber Bau GmbH"),
    ("Petra", "Wagner", "Nordlicht Logistik GmbH"),
    ("Michael", "Hoffmann", "Hansa Druck AG"),
    ("Claudia", "Schäfer", "Elbe Software GmbH"),
    ("Stefan", "Koch", "Koch Metall GmbH"),
    ("Monika", "Richter", "Alster Consulting"),
]


def spread_file(path: Path) -> Path:
    """Ten people, each in three rows far apart (variants of name, e-mail and phone), plus
    namesakes with little to tell them apart: sure pairs and possible pairs across the whole file."""
    rows = [["First Name", "Last Name", "Company", "E-mail Address", "Business Phone", "Business City"]]
    for round_number in range(3):
        for index, (first, last, company) in enumerate(PEOPLE):
            mail = f"{first.lower()}.{last.lower()}@example.org".replace("ü", "ue").replace("ä", "ae")
            shown_last = last.replace("ü", "ue").replace("ä", "ae") if round_number == 1 else last
            phone = f"040 {5550100 + index}" if round_number != 2 else ""
            rows.append([first, shown_last, company, mail if round_number != 2 or index % 2 else "", phone, "Hamburg"])
        first, last, company = PEOPLE[round_number]
        rows.append([first, last, "", f"other{round_number}@example.com", "", ""])
        rows.append([first[0] + ".", last, company, "", "", ""])  # possibly the same person
        rows.append([first, last, "", "", "", "Hamburg"])  # possibly too
    rows.append(["", "", "", "", "", "Nowhere"])  # nothing to name it by: left out, reported
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(rows)
    return path


def do_import(config: LoadedConfig, store: StateStore, files: list[Path], **kwargs: Any) -> ImportReport:
    with open_connector(config, "crm") as connector:
        return pipeline.run_import(config, store, connector, files, entity="contact", **kwargs)


def contacts(config: LoadedConfig) -> list[list[Any]]:
    engine = sa.create_engine(f"sqlite:///{config.base_dir / 'crm.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, first_name, last_name, email, phone, account_id FROM contacts"))
        found = sorted([list(row) for row in rows], key=lambda row: [str(v) for v in row])
    engine.dispose()
    return found


def answer(report: ImportReport, tmp: Path, review: Path | None = None) -> dict[str, Any]:
    """Everything the import answers; left out: the temporary folder, record versions (times)
    and golden ids (random)."""
    data: dict[str, Any] = report.as_dict()
    data["plan"] = list(report.plan)
    if review is not None and review.exists():
        data["review_rows"] = list(csv.reader(review.read_text(encoding="utf-8-sig").splitlines()))
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str).replace(str(tmp), "TMP")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", "TIME", text)  # versions of the records
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", text)  # golden ids
    result: dict[str, Any] = json.loads(text)
    return result


def check(case: str, found: dict[str, Any]) -> None:
    answers: dict[str, Any] = json.loads(ANSWERS.read_text(encoding="utf-8")) if ANSWERS.exists() else {}
    if WRITE:
        answers[case] = found
        ANSWERS.write_text(json.dumps(answers, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return
    assert found == answers[case]


@pytest.fixture(params=[3, 5000], ids=["batches-of-3", "one-batch"])
def batch_rows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(pipeline, "ROWS_PER_BATCH", request.param, raising=False)
    return int(request.param)


def test_demo_exports_answer_as_before(
    world: tuple[LoadedConfig, StateStore, list[Path]], tmp_path: Path, batch_rows: int
) -> None:
    config, store, exports = world
    check("demo dry run", answer(do_import(config, store, exports, dry_run=True), tmp_path))
    review = tmp_path / "review.csv"
    report = do_import(config, store, exports, review_path=review)
    check("demo import", {**answer(report, tmp_path, review), "crm": contacts(config)})
    again = do_import(config, store, exports, dry_run=True)
    check("demo dry run after the import", answer(again, tmp_path))


def test_far_apart_duplicates_answer_as_before(
    world: tuple[LoadedConfig, StateStore, list[Path]], tmp_path: Path, batch_rows: int
) -> None:
    config, store, _ = world
    file = spread_file(tmp_path / "spread.csv")
    check("spread dry run", answer(do_import(config, store, [file], dry_run=True), tmp_path))
    review = tmp_path / "review.csv"
    report = do_import(config, store, [file], review_path=review)
    check("spread import", {**answer(report, tmp_path, review), "crm": contacts(config)})


@pytest.mark.skipif(WRITE, reason="the code before streaming has no batches")
def test_rows_are_planned_batch_by_batch_while_the_file_is_read(
    world: tuple[LoadedConfig, StateStore, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader is a generator that is still running when the first batch has been looked up
    in the state store, and no more than two batches of rows are ever alive at once."""
    config, store, _ = world
    file = tmp_path / "many.csv"
    with file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Last Name", "E-mail Address"])
        writer.writerows([f"Vorname{i}", f"Name{i % 7}", f"p{i}@example.org"] for i in range(120))
    monkeypatch.setattr(pipeline, "ROWS_PER_BATCH", 10)
    state = {"yielded": 0, "exhausted": False}
    seen: list[tuple[int, bool, int]] = []
    real_iter_rows = pipeline.iter_rows
    real_lookup = pipeline.ImportRun._known_fingerprints

    def counting_rows(*args: Any, **kwargs: Any) -> Iterator[IncomingRow]:
        for row in real_iter_rows(*args, **kwargs):
            state["yielded"] += 1
            yield row
        state["exhausted"] = True

    def watched_lookup(run: pipeline.ImportRun, fingerprints: list[str]) -> dict[str, str]:
        alive = sum(1 for item in gc.get_objects() if isinstance(item, IncomingRow))
        seen.append((int(state["yielded"]), bool(state["exhausted"]), alive))
        return real_lookup(run, fingerprints)

    monkeypatch.setattr(pipeline, "iter_rows", counting_rows)
    monkeypatch.setattr(pipeline.ImportRun, "_known_fingerprints", watched_lookup)
    report = do_import(config, store, [file], dry_run=True)
    assert report.rows_usable == 120 and report.created + report.waiting + report.linked == report.persons
    assert [yielded for yielded, _, _ in seen] == list(range(10, 121, 10))  # one look-up per batch, in order
    assert not any(exhausted for _, exhausted, _ in seen)  # each while the reader was still running
    assert max(alive for _, _, alive in seen) <= 2 * 10


def test_progress_is_told_every_step(world: tuple[LoadedConfig, StateStore, list[Path]], tmp_path: Path) -> None:
    config, store, exports = world
    told: list[str] = []

    def progress(step: str, count: int) -> None:
        if not told or told[-1] != step:
            told.append(step)

    do_import(config, store, exports, dry_run=True, progress=progress)
    assert told[: len(exports)] == [str(path) for path in exports]  # rows read, file by file
    assert told[len(exports) :] == [
        "matching the rows with each other",
        "matching with crm, persons",
        "deciding, persons",
        "creating, persons",
    ]

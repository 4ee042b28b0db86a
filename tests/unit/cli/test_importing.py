from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.unit.importer.demo_world import build_world
from typer.testing import CliRunner

from einklang.cli import app
from einklang.importer.review import read_review

runner = CliRunner()
FIXTURES = Path(__file__).parents[2] / "fixtures" / "contacts"

OUTLOOK_EN = '"First Name","Last Name","Company","E-mail Address","Mobile Phone","Notes"\r\n'


def test_dedupe_rows_count_records_not_lines(tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text(
        OUTLOOK_EN
        + '"Anna","Schmidt","Adler GmbH","anna.schmidt@adler.de","0171 2345678",'
        + '"line one\r\nline two\r\nline three"\r\n'
        + '"Jürgen","Müller","Brandt AG","j.mueller@brandt.de","0172 9876543",""\r\n',
        encoding="utf-8",
    )
    second = tmp_path / "b.csv"
    second.write_text(
        OUTLOOK_EN
        + '"Klaus","Weber","Kraft KG","k.weber@kraft.de","0160 1112223",""\r\n'
        + '"Juergen","Mueller","Brandt AG","j.mueller@brandt.de","0172 9876543",""\r\n',
        encoding="utf-8",
    )
    out = tmp_path / "matches.csv"
    result = runner.invoke(app, ["dedupe", str(first), str(second), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["duplicate"] == 1
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "a_source,a_row,b_source,b_row,score,verdict,reasons"
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    # Jürgen is the 2nd record of a.csv although the multi-line note puts him on line 5
    assert (row["a_source"], row["a_row"], row["b_source"], row["b_row"]) == (str(first), "2", str(second), "2")
    assert row["verdict"] == "duplicate"


def test_dedupe_against_only_reports_cross_pairs(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text(
        OUTLOOK_EN
        + '"Anna","Schmidt","Adler GmbH","anna.schmidt@adler.de","0171 2345678",""\r\n'
        + '"Anna","Schmidt","Adler GmbH","anna.schmidt@adler.de","0171 2345678",""\r\n',
        encoding="utf-8",
    )
    other = tmp_path / "other.csv"
    other.write_text(OUTLOOK_EN + '"Anna","Schmidt","Adler GmbH","anna.schmidt@adler.de","",""\r\n', encoding="utf-8")
    result = runner.invoke(app, ["dedupe", str(one), "--against", str(other), "--json"])
    assert result.exit_code == 0, result.output
    matches = json.loads(result.output)["matches"]
    assert {m["b_source"] for m in matches} == {str(other)} and len(matches) == 2


def test_inspect_reports_problems_and_exits_non_zero() -> None:
    path = FIXTURES / "outlook_de_cp1252_semicolon.csv"
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    [report] = data["files"]
    assert report["format"] == "outlook-de" and report["encoding"] == "cp1252" and report["delimiter"] == "semicolon"
    assert data["ok"] is False and report["errors"] >= 1
    assert all(p["text"].startswith(f"{path}:") for p in report["problems"])


def test_inspect_unreadable_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nothing.csv"
    path.write_bytes(b"\x00\x01\x02 no header here")
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["files"][0]["error"]


def test_import_review_apply_undo_via_cli(tmp_path: Path) -> None:
    config_path, _, _, written = build_world(tmp_path, customer_count=30)
    exports = [str(p) for p in written]
    base = ["-c", str(config_path), "--json"]
    dry = runner.invoke(app, ["import", *exports, "--into", "crm", "--dry-run", *base])
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.output)
    assert planned["created"] == 14
    review = tmp_path / "review.csv"
    done = runner.invoke(app, ["import", *exports, "--into", "crm", "--review", str(review), "--lang", "de", *base])
    assert done.exit_code == 0, done.output
    imported = json.loads(done.output)
    assert imported["created"] == 14 and imported["review_file"] == str(review)
    # every row read has one outcome, every person has one outcome, the review file holds what is announced
    assert imported["rows_read"] == imported["rows_left_out"] + imported["already_imported"] + (
        imported["persons"] + imported["merged_rows"]
    )
    assert imported["persons"] == imported["created"] + imported["linked"] + imported["waiting"] + imported["failed"]
    assert imported["to_review"] == imported["linked"] + imported["waiting"]
    assert len(read_review(review)) == imported["to_review"] + imported["accounts_to_review"]
    assert {key: planned[key] for key in ("persons", "linked", "waiting", "to_review")} == {
        key: imported[key] for key in ("persons", "linked", "waiting", "to_review")
    }
    human = runner.invoke(app, ["import", *exports, "--into", "crm", "--dry-run", "-c", str(config_path)])
    assert f"{imported['rows_read']} row(s) read" in human.output
    assert "Entscheidung" in review.read_text(encoding="utf-8-sig").splitlines()[0]
    applied = runner.invoke(app, ["review", "apply", str(review), *base])
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output)["undecided"] == 4
    undone = runner.invoke(app, ["undo", str(imported["run_id"]), *base])
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.output)["deleted"] == 15
    missing = runner.invoke(app, ["undo", "999", *base])
    assert missing.exit_code == 2 and json.loads(missing.output)["ok"] is False

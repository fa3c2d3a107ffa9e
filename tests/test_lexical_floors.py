"""Learned lexical floors (classification, retrieval, seq2seq): each wins where words decide and
loses where they do not, is fitted on train only, and gives per-example scores whose means are the
floors."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from codereuse.evaluation import floors as card, lexical_floors
from codereuse.evaluation.floors import floor, floor_predictions, floor_scores, floor_se, floors, pooled_reciprocal_ranks
from codereuse.data.types import TaskData
from codereuse.metrics.retrieval import mean_reciprocal_rank
from codereuse.evaluation.verdict import standard_error



def spelled(prefix: str, i: int) -> str:
    """``prefix`` + ``i`` in letters: one lowercase word, so sub-word splitting keeps it whole."""
    return prefix + "".join(chr(ord("a") + int(d)) for d in f"{i:03d}")


VOCAB = [spelled("name", i) for i in range(60)]


@pytest.fixture(autouse=True)
def fresh_fits(monkeypatch):
    monkeypatch.setattr(lexical_floors, "_FITTED", {})  # no fit carried over from another test


def task(family: str, make, sizes=(300, 60, 120), labels=None) -> TaskData:
    rng = random.Random(0)
    splits = {s: [make(rng, i) for i in range(n)] for s, n in zip(("train", "valid", "test"), sizes)}
    return TaskData(family, family, splits, labels)


def function(names: list[str]) -> str:
    return "def f():\n" + "\n".join(f"    {a} = {b}" for a, b in zip(names, names[1:] + names[:1]))


# --- classification -----------------------------------------------------------------------------

def by_vocabulary(rng, i):
    """Three classes, each with its own 20 names: the words decide."""
    label = i % 3
    return {"code": function(rng.sample(VOCAB[20 * label:20 * label + 20], 4)), "label": label}


def by_chance(rng, i):
    """Labels drawn apart from the code (70% class 0): nothing to learn from the words."""
    return {"code": function(rng.sample(VOCAB, 4)), "label": int(rng.random() < 0.3)}


def test_tfidf_logreg_reads_class_vocabulary():
    scores = floors(task("classification", by_vocabulary, labels=["a", "b", "c"]))
    assert scores["tfidf_logreg_accuracy"] >= 0.95 and scores["majority_accuracy"] < 0.4, scores


def test_tfidf_logreg_gains_nothing_when_labels_ignore_the_words():
    scores = floors(task("classification", by_chance, labels=["a", "b"]))
    assert scores["tfidf_logreg_accuracy"] <= scores["majority_accuracy"] + 0.05, scores
    # one text for every record: the regression can only answer the training majority
    same = task("classification", lambda rng, i: {"code": "def f(): pass", "label": int(rng.random() < 0.3)},
                labels=["a", "b"])
    assert floors(same)["tfidf_logreg_accuracy"] == floors(same)["majority_accuracy"]


def test_tfidf_logreg_predictions_serve_per_kind_accuracy():
    data = task("classification", by_vocabulary, labels=["a", "b", "c"])
    test = data.splits["test"]
    predicted = floor_predictions(data, "tfidf_logreg_accuracy", test)
    assert len(predicted) == len(test) and all(isinstance(p, int) for p in predicted)
    accuracy = np.mean([p == r["label"] for p, r in zip(predicted, test)])
    assert accuracy == floors(data)["tfidf_logreg_accuracy"]
    assert floor_predictions(data, "no_such_floor", test) is None


# --- retrieval ----------------------------------------------------------------------------------

COMMON = [f"common{c}" for c in "abcdefgh"]
RARE = [spelled("rare", i) for i in range(150)]


def rare_names(rng, i):
    """Each query names its code's two rare words and all eight common ones; half the codes use
    every common word too. Plain overlap prefers those; idf says the rare words decide."""
    a, b = rng.sample(RARE, 2)
    commons = COMMON if rng.random() < 0.5 else []
    return {"query": " ".join([a, b] + COMMON), "code": f"def {a}_{b}():\n    return " + " + ".join(["x"] + commons)}


def test_tfidf_mrr_weighs_rare_words_above_common_ones():
    scores = floors(task("retrieval", rare_names, sizes=(600, 50, 200)))
    assert scores["tfidf_mrr"] >= 0.95 and scores["overlap_mrr"] < 0.7, scores


def test_tfidf_mrr_knows_only_the_words_of_train():
    # test words never occur in train: every cosine is 0, a tie, so each query ranks last
    data = task("retrieval", rare_names, sizes=(300, 10, 1))
    data.splits["test"] = [{"query": f"{spelled('unseen', i)} thing", "code": f"{spelled('unseen', i)}_thing"}
                           for i in range(40)]
    scores = floors(data)
    assert scores["tfidf_mrr"] == pytest.approx(1 / 40)
    assert scores["overlap_mrr"] > 0.9, scores  # the unlearned floor still sees the shared word


def test_overlap_mrr_by_hand():
    # words: q0 {alpha, beta} q1 {alpha, gamma} q2 {delta}; c0 {alpha, beta} c1 {gamma, delta} c2 {alpha}
    # Jaccard rows: q0 (1, 0, 1/2) -> rank 1; q1 (1/3, 1/3, 1/2) -> tied and beaten: rank 3;
    # q2 (0, 1/2, 0) -> 0 ties all three: rank 3. MRR = (1 + 1/3 + 1/3) / 3 = 5/9.
    records = [{"query": "alpha beta", "code": "alpha_beta"}, {"query": "alpha gamma", "code": "gammaDelta"},
               {"query": "delta", "code": "alpha"}]
    data = TaskData("r", "retrieval", {"train": records, "valid": records, "test": records})
    np.testing.assert_allclose(floor_scores(data)["overlap_mrr"], [1, 1 / 3, 1 / 3])
    assert floors(data)["overlap_mrr"] == pytest.approx(5 / 9)


def test_pooled_ranks_follow_the_metric_tie_rule_per_pool(monkeypatch):
    monkeypatch.setattr(card, "RETRIEVAL_POOL", 4)
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 3, size=(10, 10)).astype(float)  # many ties
    records = [{"query": str(i), "code": str(i)} for i in range(10)]
    ranks = pooled_reciprocal_ranks(records, lambda q, c: matrix[np.ix_([int(x) for x in q], [int(x) for x in c])])
    pools = [(0, 4), (4, 8), (8, 10)]
    expected = sum(mean_reciprocal_rank(torch.tensor(matrix[a:b, a:b])) * (b - a) for a, b in pools) / 10
    assert ranks.mean() == pytest.approx(expected)


# --- seq2seq ------------------------------------------------------------------------------------

TOPICS = [[spelled(f"topic{chr(ord('a') + t)}", i) for i in range(12)] for t in range(6)]
SUMMARIES = [f"open the file number {t} and read every line of it" for t in range(6)]


def topic_summary(rng, i):
    """Sources of one topic share words and one summary; the summary shares none of them."""
    t = i % 6
    return {"source": function(rng.sample(TOPICS[t], 5)), "target": SUMMARIES[t]}


def identity(rng, i):
    """The target is the source: copying is perfect, no training target is."""
    words = " ".join(rng.sample(VOCAB, 8))
    return {"source": words, "target": words}


def test_nearest_target_finds_the_summary_of_similar_code():
    scores = floors(task("seq2seq", topic_summary))
    assert scores["nearest_target_bleu"] > 0.95 and scores["copy_bleu"] < 0.05, scores
    assert floor(task("seq2seq", topic_summary))[0] == "nearest_target_bleu"


def test_copy_beats_nearest_target_when_the_target_is_the_source():
    scores = floors(task("seq2seq", identity))
    assert scores["copy_bleu"] == pytest.approx(1.0) and scores["nearest_target_bleu"] < 0.5, scores


# --- fitted on train only -----------------------------------------------------------------------

def poisoned(data: TaskData) -> TaskData:
    """Valid and test with other labels, targets, queries: nothing a floor fits may change."""
    def spoil(r, i):
        r = dict(r)
        if "label" in r:
            r["label"] = (r["label"] + 1) % 3
        if "target" in r:
            r["target"] = f"poison{i} " * 3
        if "query" in r:
            r["query"] = f"poison{i} " + r["code"]
        return r
    return TaskData(data.name, data.family, {"train": data.splits["train"],
                                             **{s: [spoil(r, i) for i, r in enumerate(data.splits[s])]
                                                for s in ("valid", "test")}}, data.label_names)


@pytest.mark.parametrize("family, make", [("classification", by_vocabulary), ("retrieval", rare_names),
                                          ("seq2seq", topic_summary)])
def test_floors_never_fit_on_valid_or_test(family, make):
    data = task(family, make, labels=["a", "b", "c"])
    probe = task(family, make, sizes=(0, 0, 30)).splits["test"]  # a fixed input, scored against each fit
    clean = {name: scores.tolist() for name, scores in floor_scores(data, probe).items()}
    lexical_floors._FITTED.clear()  # refit from scratch on the poisoned task
    assert {name: scores.tolist() for name, scores in floor_scores(poisoned(data), probe).items()} == clean


def test_fitted_once_per_training_set(monkeypatch):
    fits = []
    real = lexical_floors._fit_classifier
    monkeypatch.setattr(lexical_floors, "_fit_classifier", lambda train: fits.append(len(train)) or real(train))
    data = task("classification", by_vocabulary, labels=["a", "b", "c"])
    floors(data), floors(data, data.splits["valid"]), floor_se(data, "tfidf_logreg_accuracy")
    assert fits == [300]


# --- per-example scores and standard errors -----------------------------------------------------

@pytest.mark.parametrize("family, make", [("classification", by_vocabulary), ("retrieval", rare_names),
                                          ("seq2seq", topic_summary)])
def test_per_example_scores_average_to_the_floors(family, make):
    data = task(family, make, labels=["a", "b", "c"])
    per_example, means = floor_scores(data), floors(data)
    assert set(per_example) == set(means)
    for name, scores in per_example.items():
        assert len(scores) == len(data.splits["test"])
        assert scores.mean() == pytest.approx(means[name], abs=1e-9)
        assert floor_se(data, name) == pytest.approx(standard_error(scores))


def test_standard_error_of_a_floor_by_hand():
    # majority (0) right on two of four test records: 0/1 scores 1, 0, 1, 0; SE = sqrt((4 * 1/4) / 3 / 4)
    rows = [{"code": f"def f{i}(): pass", "label": label} for i, label in enumerate((0, 0, 0, 1))]
    test = [{"code": "def g(): pass", "label": label} for label in (0, 1, 0, 1)]
    data = TaskData("c", "classification", {"train": rows, "valid": rows, "test": test}, ["a", "b"])
    assert floor_scores(data)["majority_accuracy"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert floor_se(data, "majority_accuracy") == pytest.approx(math.sqrt(1 / 12))
    assert math.isnan(floor_se(data, "majority_accuracy", test[:1]))

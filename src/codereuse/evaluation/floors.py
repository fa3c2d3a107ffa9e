"""Dataset cards: one screen of facts about a task, with the floors every model result should be
read against.

Floors are scored on the *evaluated* test records; anything they fit is fitted on train only.
Classification: the training majority class and a TF-IDF logistic regression. Seq2seq: copying
the input, and the target of the nearest training source (TF-IDF), both as smoothed BLEU.
Retrieval: sub-word overlap and TF-IDF cosine (idf from train), each query against up to 999
distractors as in CodeSearchNet, as MRR. Pair tasks get three shallow learners, each a shortcut a
model could take instead of reading the code: a token-Jaccard threshold, logistic regression on
bags of tokens of both sides (shared and one-sided tokens), and gradient boosting on the layout of
both sides and its differences. A floor's name ends in the metric it sits beside (``_accuracy``,
``_bleu``, ``_mrr``); :func:`floor_scores` gives its per-example scores for standard errors.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from codereuse.data.types import TaskData
from codereuse.families import TEXT, family

from codereuse.data.tokens import jaccard, words

RETRIEVAL_POOL = 1000


def floors(task: TaskData, test_records: list[dict] | None = None) -> dict[str, float]:
    """Named floor scores on ``test_records`` (default: the test split), fitted on train."""
    test = task.splits["test"] if test_records is None else test_records
    spec = family(task.family)
    if spec.output is TEXT:  # mean smoothed sentence BLEU, scored as the models are
        from codereuse.metrics.text import smoothed_bleu  # sacrebleu: only needed here
        targets = [r[spec.target] for r in test]
        return {name: smoothed_bleu(predict(), targets) for name, predict in _predictors(task, test).items()}
    return {name: float(np.mean(scores)) if len(scores) else 0.0
            for name, scores in floor_scores(task, test).items()}


def floor_scores(task: TaskData, test_records: list[dict] | None = None,
                 names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Per-example scores of each floor (or of ``names``), whose means are :func:`floors`: 0/1
    correctness for accuracy floors, the reciprocal rank for MRR floors, smoothed sentence BLEU
    (a fraction) for BLEU floors."""
    test = task.splits["test"] if test_records is None else test_records
    spec = family(task.family)
    predictors = _predictors(task, test)
    scores = {}
    for name in names or tuple(predictors):
        predicted = predictors[name]()
        if spec.predicts_labels:
            scores[name] = (np.asarray(predicted) == np.array([r["label"] for r in test])).astype(float)
        elif spec.output is TEXT:
            from codereuse.metrics.text import smoothed_bleu
            scores[name] = np.array([smoothed_bleu([p], [r[spec.target]]) for p, r in zip(predicted, test)])
        else:  # ranking: the predictors give reciprocal ranks
            scores[name] = np.asarray(predicted, dtype=float)
    return scores


def floor_se(task: TaskData, name: str, test_records: list[dict] | None = None) -> float:
    """Standard error of floor ``name``'s mean over ``test_records`` (NaN under two records)."""
    from .verdict import standard_error
    return standard_error(floor_scores(task, test_records, names=(name,))[name])


def floor(task: TaskData, test_records: list[dict] | None = None) -> tuple[str, float]:
    """The best (highest) of :func:`floors`: the score a model has to beat."""
    return max(floors(task, test_records).items(), key=lambda item: item[1])


def floor_predictions(task: TaskData, name: str, test_records: list[dict]) -> list[int] | None:
    """The labels floor ``name`` predicts for ``test_records`` (label-predicting floors only)."""
    if not family(task.family).predicts_labels:
        return None
    predict = _predictors(task, test_records).get(name)
    return None if predict is None else np.asarray(predict()).tolist()


def _predictors(task: TaskData, test: list[dict]) -> dict:
    """Floor name -> a function giving its predictions: labels (label families), strings (text) or
    reciprocal ranks (ranking). Lazy, so one floor can be scored alone."""
    return FLOORS[task.family].predictors(task.splits["train"], test)


def _classification_floors(train: list[dict], test: list[dict]) -> dict:
    from .lexical_floors import tfidf_logreg_predictions  # scikit-learn: only needed here
    return {"majority_accuracy": lambda: np.full(len(test), _majority(train)),
            "tfidf_logreg_accuracy": lambda: tfidf_logreg_predictions(train, test)}


def _pair_floors(train: list[dict], test: list[dict]) -> dict:
    from .pair_floors import FLOORS as PAIR_FLOORS, pair_floor_predictions
    return {name: (lambda name=name: pair_floor_predictions(train, test, names=(name,))[name])
            for name in PAIR_FLOORS}


def _seq2seq_floors(train: list[dict], test: list[dict]) -> dict:
    from .lexical_floors import nearest_targets
    return {"copy_bleu": lambda: [r["source"] for r in test],
            "nearest_target_bleu": lambda: nearest_targets(train, test)}


def _retrieval_floors(train: list[dict], test: list[dict]) -> dict:
    from .lexical_floors import tfidf_similarities
    return {"overlap_mrr": lambda: pooled_reciprocal_ranks(test, _overlaps),
            "tfidf_mrr": lambda: pooled_reciprocal_ranks(test, tfidf_similarities(train))}


@dataclass(frozen=True)
class FloorSet:
    """A family's floors: ``predictors(train, test)`` gives floor name -> lazy predictions, each
    name ending in the family's ``output.floor_metric``; ``fitted`` says which fit on train (the card's note)."""
    predictors: Callable[[list[dict], list[dict]], dict]
    fitted: str


# the floors of each task family (codereuse.families.FAMILIES), by family name
FLOORS: dict[str, FloorSet] = {
    "classification": FloorSet(_classification_floors, "majority, tfidf_logreg"),
    "pair": FloorSet(_pair_floors, "all three"),
    "seq2seq": FloorSet(_seq2seq_floors, "nearest_target"),
    "retrieval": FloorSet(_retrieval_floors, "tfidf"),
}


def _majority(train: list[dict]) -> int:
    return Counter(r["label"] for r in train).most_common(1)[0][0]


def _overlaps(queries: list[str], codes: list[str]) -> np.ndarray:
    query_words, code_words = [words(q) for q in queries], [words(c) for c in codes]
    return np.array([[jaccard(q, c) for c in code_words] for q in query_words]).reshape(len(queries), len(codes))


def pooled_reciprocal_ranks(records: list[dict], similarity) -> np.ndarray:
    """Each query's reciprocal rank among the codes of its pool of ``RETRIEVAL_POOL`` consecutive
    records, ``similarity(queries, codes)`` giving the score matrix. Ties count against the query,
    as in :func:`codereuse.metrics.retrieval.mean_reciprocal_rank`."""
    ranks = []
    for start in range(0, len(records), RETRIEVAL_POOL):
        chunk = records[start:start + RETRIEVAL_POOL]
        scores = np.asarray(similarity([r["query"] for r in chunk], [r["code"] for r in chunk]))
        ranks.append((scores >= scores.diagonal()[:, None]).sum(axis=1))
    return 1.0 / np.concatenate(ranks) if ranks else np.zeros(0)


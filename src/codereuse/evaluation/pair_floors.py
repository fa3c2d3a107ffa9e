"""The three shallow floors of a pair task (``code1``/``code2`` -> label), fitted on train.

Each is a shortcut a model could take instead of reading the code; a pair task is only worth
training on if all three stay low:

- ``jaccard_accuracy``: sub-word Jaccard overlap of the two sides, one threshold (either way);
- ``bow_logreg_accuracy``: logistic regression on hashed bags of tokens, as the tokens both sides
  share (``a * b``) and the tokens only one side has (``|a - b|``);
- ``layout_gbm_accuracy``: gradient boosting on layout statistics (lines, characters, tokens,
  indentation, ...) of both sides, their absolute differences and ratios.
"""
from __future__ import annotations

import hashlib

import numpy as np
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from codereuse.data.tokens import jaccard, words
from codereuse.data.normalize import code_tokens

HASH_FEATURES = 2 ** 16
# Enough pairs for every learner to find what there is to find, few enough to fit in seconds.
MAX_TRAIN = 20_000


FLOORS = ("jaccard_accuracy", "bow_logreg_accuracy", "layout_gbm_accuracy")


def pair_floor_predictions(train: list[dict], test: list[dict], names: tuple[str, ...] = FLOORS) -> dict[str, np.ndarray]:
    """The predicted label of each named floor for every test pair (per-kind accuracy of a floor)."""
    if not test:
        return {name: np.zeros(0, dtype=int) for name in names}
    (sign, threshold), bag_model, layout_model = _fitted(train)
    predict = {"jaccard_accuracy": lambda: (sign * np.array(_overlaps(test)) >= threshold).astype(int),
               "bow_logreg_accuracy": lambda: np.asarray(bag_model.predict(_bag_features(test))),
               "layout_gbm_accuracy": lambda: np.asarray(layout_model.predict(_layout_features(test)))}
    with threadpool_limits(1):
        return {name: predict[name]() for name in names}


# One run scores the floors twice (the card on the whole test split, the result table on the
# evaluated subset) and a benchmark many times on one split: fit once per training set.
_FITTED: dict[str, tuple] = {}


def _fitted(train: list[dict]) -> tuple:
    digest = hashlib.sha256()
    for r in train:
        digest.update(f"{r['label']}\0{r['code1']}\0{r['code2']}\1".encode())
    key = digest.hexdigest()
    if key not in _FITTED:
        train = subsample(train)
        y_train = _labels(train)
        with threadpool_limits(1):  # small fits: on a shared machine extra threads only contend
            _FITTED[key] = (_jaccard_cut(train), _fit(LogisticRegression(solver="liblinear"), _bag_features(train), y_train),
                            _fit(HistGradientBoostingClassifier(random_state=0), _layout_features(train), y_train))
    return _FITTED[key]


def subsample(records: list[dict]) -> list[dict]:
    if len(records) <= MAX_TRAIN:
        return records
    chosen = np.random.default_rng(0).choice(len(records), MAX_TRAIN, replace=False)
    return [records[i] for i in sorted(chosen)]


def _labels(records: list[dict]) -> np.ndarray:
    return np.array([r["label"] for r in records])


class _Constant:
    """What a learner amounts to when train has one label (or none): that label, always."""

    def __init__(self, label: int) -> None:
        self.label = label

    def predict(self, x) -> np.ndarray:
        return np.full(x.shape[0], self.label)


def _fit(model, x_train, y_train):
    if len(set(y_train.tolist())) < 2:  # nothing to fit: predict the only label seen
        return _Constant(int(y_train[0]) if len(y_train) else -1)
    return model.fit(x_train, y_train)


# --- token overlap ------------------------------------------------------------------------------

def _overlaps(records: list[dict]) -> list[float]:
    return [jaccard(words(r["code1"]), words(r["code2"])) for r in records]


def _jaccard_cut(train: list[dict]) -> tuple[float, float]:
    """(sign, threshold): one cut on the overlap, in whichever direction fits train better (a task
    whose negatives overlap *more* than its positives is as shallow as the reverse)."""
    scores, labels = _overlaps(train), _labels(train)
    fits = []
    for sign in (1.0, -1.0):
        threshold = best_threshold([sign * s for s in scores], labels.tolist())
        fits.append((np.mean((sign * np.array(scores) >= threshold) == labels.astype(bool)), sign, threshold))
    _, sign, threshold = max(fits)
    return sign, threshold


def best_threshold(scores: list[float], labels: list[int]) -> float:
    """The cut (predict 1 at or above it) with the best accuracy on these scores."""
    if not scores:
        return 0.5
    order = sorted(zip(scores, labels))
    positives_above = sum(labels)  # cut below everything: all predicted 1
    best, best_correct, negatives_below = order[0][0], positives_above, 0
    for i, (score, label) in enumerate(order):
        positives_above -= label
        negatives_below += 1 - label
        following = order[i + 1][0] if i + 1 < len(order) else score + 1e-9
        if following > score and positives_above + negatives_below > best_correct:
            best, best_correct = (score + following) / 2, positives_above + negatives_below
    return float(best)


# --- bags of tokens -----------------------------------------------------------------------------

def analyzer(code: str) -> list[str]:
    """Whole code tokens (names, keywords, operators, literals) plus their sub-words."""
    tokens = [text for _, text in code_tokens(code)]
    return tokens + ["#" + w for w in words(code)]


_HASHER = HashingVectorizer(analyzer=analyzer, n_features=HASH_FEATURES, binary=True, norm=None,
                            alternate_sign=False)


def _bag_features(records: list[dict]):
    a = _HASHER.transform([r["code1"] for r in records])
    b = _HASHER.transform([r["code2"] for r in records])
    shared = a.multiply(b)
    return sparse.hstack([shared, abs(a - b)]).tocsr()


# --- layout -------------------------------------------------------------------------------------

def layout(code: str) -> list[float]:
    """Everything a printer or a length filter could leak: sizes, whitespace, indentation."""
    lines = code.split("\n")
    indents = [len(line) - len(line.lstrip(" ")) for line in lines]
    lengths = [len(line) for line in lines]
    return [len(lines), len(code), len(code.split()), len(code_tokens(code)), code.count(" "),
            sum(indents), max(indents), float(np.mean(indents)), max(lengths), float(np.mean(lengths)),
            sum(1 for i in indents if i > 4)]


def _layout_features(records: list[dict]) -> np.ndarray:
    a = np.array([layout(r["code1"]) for r in records], dtype=float).reshape(-1, 11)
    b = np.array([layout(r["code2"]) for r in records], dtype=float).reshape(-1, 11)
    return np.hstack([a, b, np.abs(a - b), (b + 1) / (a + 1)])

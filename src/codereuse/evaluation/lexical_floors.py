"""Learned lexical floors of the classification, retrieval and seq2seq families, fitted on train.

Each reads words and nothing else, so a model that does not beat it has learnt nothing a bag of
words does not already know:

- ``tfidf_logreg_accuracy``: logistic regression on TF-IDF of code tokens and their sub-words;
- ``tfidf_mrr``: cosine of TF-IDF sub-word vectors of query and code, vocabulary and idf from the
  training split's queries and code;
- ``nearest_target_bleu``: the target of the training source closest to the test source (TF-IDF
  cosine over sub-words), as the prediction.

Vocabulary, idf and weights come from train (capped at ``MAX_TRAIN`` records by a seeded
subsample); the test records are only transformed.
"""
from __future__ import annotations

import hashlib

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from codereuse.data.tokens import subwords
from .pair_floors import analyzer, subsample

# test sources scored against all of train at once: bounds the dense similarity block
NEAREST_CHUNK = 256
# Weak regularisation suits L2-normalised TF-IDF rows (stdlib classify, valid split: C=1 0.611,
# 3 and 10 0.624, 30 0.616).
LOGREG_C = 10.0

# A run scores a floor more than once on one split (card, result table, standard errors): fit once
# per training set and family.
_FITTED: dict[tuple[str, str], tuple] = {}


def tfidf_logreg_predictions(train: list[dict], test: list[dict]) -> np.ndarray:
    """The class the TF-IDF logistic regression gives each test record."""
    vectorizer, model = _fitted("classification", train, ("label", "code"), _fit_classifier)
    if not test:
        return np.zeros(0, dtype=int)
    with threadpool_limits(1):
        if isinstance(model, int):  # train holds one class: nothing to learn
            return np.full(len(test), model)
        return np.asarray(model.predict(vectorizer.transform([r["code"] for r in test])))


def tfidf_similarities(train: list[dict]):
    """``(queries, codes) -> cosine matrix`` of TF-IDF sub-word vectors fitted on ``train``."""
    (vectorizer,) = _fitted("retrieval", train, ("query", "code"), _fit_retrieval)

    def similarities(queries: list[str], codes: list[str]) -> np.ndarray:
        with threadpool_limits(1):
            return (vectorizer.transform(queries) @ vectorizer.transform(codes).T).toarray()
    return similarities


def nearest_targets(train: list[dict], test: list[dict]) -> list[str]:
    """For each test source, the target of the most similar training source (first on ties)."""
    vectorizer, sources, targets = _fitted("seq2seq", train, ("source", "target"), _fit_nearest)
    chosen: list[int] = []
    with threadpool_limits(1):
        for start in range(0, len(test), NEAREST_CHUNK):
            block = vectorizer.transform([r["source"] for r in test[start:start + NEAREST_CHUNK]])
            chosen.extend(np.asarray((block @ sources.T).toarray().argmax(axis=1)).tolist())
    return [targets[i] for i in chosen]


# --- fitting ------------------------------------------------------------------------------------

def _fitted(family: str, train: list[dict], fields: tuple[str, ...], fit) -> tuple:
    digest = hashlib.sha256()
    for r in train:
        digest.update("\0".join(str(r[f]) for f in fields).encode() + b"\1")
    key = (family, digest.hexdigest())
    if key not in _FITTED:
        with threadpool_limits(1):  # small fits: on a shared machine extra threads only contend
            _FITTED[key] = fit(subsample(train))
    return _FITTED[key]


def _fit_classifier(train: list[dict]) -> tuple:
    labels = np.array([r["label"] for r in train])
    vectorizer = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True)
    x = vectorizer.fit_transform([r["code"] for r in train])
    if len(set(labels.tolist())) < 2:
        return vectorizer, int(labels[0])
    return vectorizer, LogisticRegression(C=LOGREG_C, max_iter=1000).fit(x, labels)


def _fit_retrieval(train: list[dict]) -> tuple:
    vectorizer = TfidfVectorizer(analyzer=subwords, sublinear_tf=True)
    vectorizer.fit([r["code"] for r in train] + [r["query"] for r in train])
    return (vectorizer,)


def _fit_nearest(train: list[dict]) -> tuple:
    vectorizer = TfidfVectorizer(analyzer=subwords, sublinear_tf=True)
    sources = vectorizer.fit_transform([r["source"] for r in train]).tocsr()
    return vectorizer, sources, [r["target"] for r in train]

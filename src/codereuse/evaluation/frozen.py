"""The frozen pre-trained model as a reference arm: what the backbone knows before any training.

Classification and pair tasks get a linear probe: logistic regression on the backbone's standardised
frozen pooled features (pairs as ``[u, v, |u - v|, u * v]``, the pair head's input), fitted on a
seeded subset of the training split, its regularisation chosen on the validation split (it moves
the LeetCode clone probe from 0.79 to 0.84 validation accuracy), the test split scored once. Retrieval gets zero-shot cosine similarity between frozen query
and code embeddings, ranked as the lexical floors rank (pools of ``floors.RETRIEVAL_POOL``). Seq2seq has
no reference: an untrained decoder generates nothing worth scoring.

Features are cached on disk per (weights, pooling, length, texts), so a benchmark that runs the same
task many times pays for one extraction.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from codereuse.data.cache import default_cache_dir
from codereuse.evaluation.floors import pooled_reciprocal_ranks
from codereuse.evaluation.verdict import standard_error
from codereuse.families import RANKING, TaskFamily, family as task_family

# Enough examples for a linear probe on a few hundred dimensions, few enough to encode in minutes.
MAX_TRAIN = 4000
# inverse regularisation strengths of the probe, chosen on validation: standardised features of a
# few hundred dimensions need strong regularisation at a few thousand examples
C_GRID = (0.001, 0.01, 0.1, 1.0)


@dataclass
class FrozenReference:
    # the family's output.frozen_reference (linear_probe_accuracy | zero_shot_mrr): the suffix names the metric it sits beside
    name: str
    per_example: np.ndarray  # 0/1 correctness or reciprocal rank of every evaluated test record

    @property
    def score(self) -> float:
        return float(self.per_example.mean()) if len(self.per_example) else 0.0

    @property
    def se(self) -> float:
        return standard_error(self.per_example)


class Encoder:
    """Pooled last-layer features of one frozen backbone, cached on disk per list of texts."""

    def __init__(self, spec: dict, *, cache_dir: str | Path | None = None, progress: bool = True) -> None:
        from codereuse.models import load_backbone
        from codereuse.models.fingerprint import weights_fingerprint

        self.backbone = load_backbone(spec)
        self.weights = weights_fingerprint(self.backbone.model, self.backbone.tokenizer)
        self.root = Path(cache_dir) if cache_dir else default_cache_dir()
        self.progress = progress

    def __call__(self, texts: list[str], max_length: int) -> np.ndarray:
        from codereuse.models.features import depth, layer_features

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        key = hashlib.sha256(json.dumps([self.weights, self.backbone.spec.pooling, max_length, texts]).encode()).hexdigest()[:24]
        path = self.root / "frozen" / f"{key}.npy"
        if path.is_file():
            try:
                return np.load(path, allow_pickle=False)
            except (ValueError, OSError):  # a truncated file: recompute it
                path.unlink(missing_ok=True)
        layer = depth(self.backbone)
        features = layer_features(self.backbone, texts, layers=[layer], max_length=max_length,
                                  pooling=self.backbone.spec.pooling, desc="frozen reference",
                                  progress=self.progress).pooled[0]
        _save(path, features)
        return features


def frozen_reference(encoder, family: str, train_records: list[dict], test_records: list[dict], *,
                     max_length: int, max_query_length: int, valid_records: list[dict] = (),
                     seed: int = 0) -> FrozenReference | None:
    """The frozen model's score on ``test_records`` (None for a family without a frozen reference:
    seq2seq); the probe is fitted on (up to :data:`MAX_TRAIN` of) ``train_records`` with its inverse
    regularisation from :data:`C_GRID` chosen on ``valid_records`` (the grid's middle when there are
    none). ``encoder(texts, max_length)`` gives pooled features."""
    spec = task_family(family)
    if spec.output is RANKING:
        return _zero_shot(encoder, spec, test_records, max_length, max_query_length)
    if not spec.predicts_labels:
        return None
    splits = {"train": _subset(train_records, MAX_TRAIN, seed), "valid": _subset(list(valid_records), MAX_TRAIN, seed),
              "test": test_records}
    x = {name: _features(encoder, records, spec, max_length) for name, records in splits.items()}
    y = {name: np.array([r["label"] for r in records]) for name, records in splits.items()}
    c = _chosen_c(x["train"], y["train"], x["valid"], y["valid"])
    correct = (_probe(x["train"], y["train"], x["test"], c) == y["test"]).astype(float)
    return FrozenReference(spec.output.frozen_reference, correct)


def _zero_shot(encoder, spec: TaskFamily, records: list[dict], max_length: int, max_query_length: int) -> FrozenReference:
    """Cosine of frozen query and code embeddings, ranked in the lexical floors' pools."""
    query, code = spec.inputs
    embedded = {}
    for field in spec.inputs:
        texts = [r[field] for r in records]
        embedded[field] = dict(zip(texts, _normalised(encoder(texts, spec.length_limit(field, max_length, max_query_length)))))

    def similarity(queries: list[str], codes: list[str]) -> np.ndarray:
        return np.stack([embedded[query][q] for q in queries]) @ np.stack([embedded[code][c] for c in codes]).T

    return FrozenReference(spec.output.frozen_reference, pooled_reciprocal_ranks(records, similarity))


def _features(encoder, records: list[dict], spec: TaskFamily, max_length: int) -> np.ndarray:
    """One row per record; each distinct text is encoded once (pair tasks repeat functions)."""
    fields = spec.inputs
    if not records:
        return np.zeros((0, 0), dtype=np.float32)
    texts = sorted({r[f] for r in records for f in fields})
    position = {text: i for i, text in enumerate(texts)}
    pooled = torch.from_numpy(encoder(texts, max_length))
    sides = [pooled[[position[r[f]] for r in records]] for f in fields]
    if spec.paired:  # the pair head's input
        from codereuse.methods.heads import pair_features

        return pair_features(*sides).numpy()
    return sides[0].numpy()


def _chosen_c(x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray) -> float:
    """The C of :data:`C_GRID` with the best validation accuracy (the smaller C on ties)."""
    if not len(x_valid):
        return C_GRID[len(C_GRID) // 2]
    accuracy = {c: float(np.mean(_probe(x_train, y_train, x_valid, c) == y_valid)) for c in C_GRID}
    return max(C_GRID, key=lambda c: (accuracy[c], -c))


def _probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    if len(x_test) == 0:
        return np.zeros(0, dtype=int)
    if len(set(y_train.tolist())) < 2:  # nothing to fit: the only label seen
        return np.full(len(x_test), y_train[0] if len(y_train) else -1)
    with threadpool_limits(1):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        return model.fit(x_train, y_train).predict(x_test)


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def _subset(records: list[dict], limit: int, seed: int) -> list[dict]:
    if len(records) <= limit:
        return records
    keep = np.sort(np.random.default_rng(seed).choice(len(records), limit, replace=False))
    return [records[i] for i in keep]


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    with os.fdopen(handle, "wb") as file:
        np.save(file, array, allow_pickle=False)
    os.replace(tmp, path)

"""Trained proxies: how well a cheap model learns the task from the frozen features, measured on
held-out probe examples (cross-validation, or leave-one-out for kNN)."""
from __future__ import annotations

import logging

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, TensorDataset

from codereuse.selection.proxy import ProxyScorerModule


def _folds(y: np.ndarray, folds: int, seed: int):
    smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
    return StratifiedKFold(n_splits=max(2, min(folds, smallest)), shuffle=True, random_state=seed).split(y, y)


class LogisticProbe:
    """Cross-validated accuracy of an L2 logistic regression on standardised features."""

    def __init__(self, C: float = 1.0, folds: int = 3, seed: int = 0) -> None:
        self.C, self.folds, self.seed = C, folds, seed

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        correct = 0
        for train, test in _folds(y, self.folds, self.seed):
            probe = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=500))
            correct += int(np.sum(probe.fit(X[train], y[train]).predict(X[test]) == y[test]))
        return correct / len(y)


def knn_leave_one_out(X: np.ndarray, y: np.ndarray, k: int) -> float:
    """Accuracy of a k-nearest-neighbour vote (cosine) where each point's own vote is excluded."""
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)  # a point is never its own neighbour
    neighbours = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    classes, codes = np.unique(y, return_inverse=True)
    votes = np.zeros((len(y), len(classes)))
    for rank in range(k):  # nearer neighbours break ties
        np.add.at(votes, (np.arange(len(y)), codes[neighbours[:, rank]]), 1.0 + 1e-3 * (k - rank))
    return float(np.mean(votes.argmax(axis=1) == codes))


class KNN:
    def __init__(self, k: int = 1) -> None:
        self.k = k

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        return knn_leave_one_out(np.asarray(X, dtype=np.float64), y, self.k)


class MLPProxy:
    """Cross-validated accuracy of a :class:`ProxyScorerModule` trained with Lightning."""

    def __init__(self, hidden: int = 128, epochs: int = 40, lr: float = 1e-3, folds: int = 3,
                 batch_size: int = 256, seed: int = 0) -> None:
        self.hidden, self.epochs, self.lr, self.folds, self.batch_size, self.seed = hidden, epochs, lr, folds, batch_size, seed

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        features = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        classes, codes = np.unique(y, return_inverse=True)
        labels = torch.as_tensor(codes, dtype=torch.long)
        correct = 0.0
        for train, test in _folds(y, self.folds, self.seed):
            pl.seed_everything(self.seed, workers=False, verbose=False)
            module = ProxyScorerModule(features.shape[1], len(classes), hidden=self.hidden, lr=self.lr)
            module.standardise_with(features[train])
            loader = DataLoader(TensorDataset(features[train], labels[train]), batch_size=self.batch_size, shuffle=True)
            _quiet_trainer(self.epochs).fit(module, loader)
            correct += module.accuracy(features[test], labels[test]) * len(test)
        return correct / len(y)


def _quiet_trainer(epochs: int) -> pl.Trainer:
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    return pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)

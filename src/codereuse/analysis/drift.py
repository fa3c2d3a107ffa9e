"""How far fine-tuning moved each layer: linear CKA and RSA between pre-trained and fine-tuned
features of the same functions, and the freeze depth that follows.

Suggested-depth rule: with ``drift(l) = 1 - CKA(l)`` for l = 0 (embeddings output) .. L, the
*first drifting layer* d is the lowest l with ``drift(l) >= threshold``. Everything below it
(embeddings and layers 1..d-1) kept its representation and can be frozen, so train the top
``L - d + 1`` layers: ``freeze=top<L-d+1>``. If the embeddings already drift (d = 0) nothing can be
frozen (``freeze=none``); if no layer drifts, the backbone can be frozen whole (``freeze=all``).
Measure drift on a run that trained every layer (``freeze=none``): a frozen layer cannot drift.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

from codereuse.analysis.config import RSA_METHODS, ProbeConfig, check_drift_options
from codereuse.models.features import LayerFeatures, depth, layer_features
from codereuse.analysis.table import LayerTable
from codereuse.errors import ConfigError
from codereuse.models import Backbone

CORRELATIONS = {"spearman": spearmanr, "pearson": pearsonr}  # by RSA_METHODS name


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al. 2019) of two (examples, features) matrices:
    ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F) on column-centred X, Y. NaN if either is constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    denominator = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(np.linalg.norm(y.T @ x) ** 2 / denominator) if denominator > 0 else float("nan")


def rsa(x: np.ndarray, y: np.ndarray, method: str = "spearman") -> float:
    """Correlation of the upper triangles of the two pairwise cosine-similarity matrices."""
    if method not in RSA_METHODS:
        raise ConfigError("rsa", method, RSA_METHODS)
    upper = np.triu_indices(len(x), k=1)
    first, second = _cosine(x)[upper], _cosine(y)[upper]
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return float("nan")
    return float(CORRELATIONS[method](first, second).statistic)


def _cosine(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T


def suggest_freeze(layers: list[int], drift: list[float], threshold: float, num_layers: int) -> dict:
    """The module docstring's rule; ``layers`` are hidden-state indices 0..num_layers."""
    drifting = [layer for layer, value in zip(layers, drift) if value >= threshold]  # NaN never counts
    first = min(drifting, default=None)
    if first is None:
        freeze, train_top = "all", 0
    elif first == 0:
        freeze, train_top = "none", num_layers
    else:
        train_top = num_layers - first + 1
        freeze = f"top{train_top}"
    return {"threshold": threshold, "first_drifting_layer": first, "train_top": train_top,
            # hidden-state rows (embeddings = row 0) that stay frozen
            "frozen_layers": num_layers + 1 if first is None else first,
            "freeze": freeze, "command": f"python train.py freeze={freeze}",
            "rule": "lowest layer d with 1 - CKA >= threshold; freeze embeddings and layers below d, "
                    "train layers d..L (freeze=top<L-d+1>); d = embeddings: none; no such layer: all"}


def function_features(backbone: Backbone, codes: list[str], config: ProbeConfig, desc: str,
                      progress: bool = True) -> LayerFeatures:
    """Pooled features of every layer (embeddings output included) of ``codes``."""
    return layer_features(backbone, codes, layers=list(range(depth(backbone) + 1)), max_length=config.max_length,
                          batch_size=config.batch_size, pooling=config.pooling, desc=desc, progress=progress)


def drift_table(before: LayerFeatures, after: LayerFeatures, model: str, threshold: float = 0.1,
                rsa_method: str = "spearman") -> LayerTable:
    check_drift_options(threshold, rsa_method)
    if before.layers != after.layers or before.pooled.shape[1] != after.pooled.shape[1]:
        raise ValueError("before/after features must cover the same layers and inputs")
    cka = [linear_cka(b, a) for b, a in zip(before.pooled, after.pooled)]
    similarity = [rsa(b, a, rsa_method) for b, a in zip(before.pooled, after.pooled)]
    drift = [1 - value for value in cka]
    suggestion = suggest_freeze(before.layers, drift, threshold, max(before.layers))
    first = suggestion["first_drifting_layer"]
    return LayerTable(
        "drift", model, list(before.layers), {"cka": cka, "rsa": similarity, "drift": drift},
        info={"suggestion": suggestion, "rsa_method": rsa_method, "functions": int(before.pooled.shape[1])},
        notes=[
            f"first layer with drift (1 - CKA) >= {threshold}: "
            + ("none" if first is None else "embeddings" if first == 0 else f"layer {first}"),
            f"suggested: freeze={suggestion['freeze']} (train the top {suggestion['train_top']} layers)  "
            f"-> {suggestion['command']}",
        ],
    )

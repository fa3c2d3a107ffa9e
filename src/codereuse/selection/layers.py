"""Layer selection: score every layer of one model's frozen features, and the freeze depth it suggests."""
from __future__ import annotations

import numpy as np

from codereuse.selection.features import CandidateFeatures


def layer_curve(features: CandidateFeatures, labels: np.ndarray, scorer) -> dict[int, float]:
    return {layer: float(scorer(X, labels)) for layer, X in sorted(features.layers.items())}


def suggest_freeze_depth(curve: dict[int, float], num_layers: int, tolerance: float = 0.05) -> dict:
    """The lowest layer d whose score is within ``tolerance`` of the curve's range below the best:
    layers 0..d already hold what the task needs, so freeze them and train the layers above
    (freeze=top<L-d>; d = L: freeze=all, a head on the frozen model)."""
    layers = sorted(curve)
    values = np.array([curve[layer] for layer in layers])
    low, high = values.min(), values.max()
    bar = high - tolerance * (high - low)
    best = next(layer for layer, value in zip(layers, values) if value >= bar)
    train_top = num_layers - best
    freeze = "all" if train_top == 0 else f"top{train_top}"
    return {"best_layer": int(best), "train_top": int(train_top), "freeze": freeze, "tolerance": tolerance,
            "command": f"python train.py freeze={freeze}",
            "rule": f"lowest layer d scoring within {tolerance:.0%} of the range below the best layer; "
                    "freeze embeddings and layers 1..d, train the rest"}

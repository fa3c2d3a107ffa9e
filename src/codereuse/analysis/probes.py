"""Linear probes of every layer for Telly's four properties (frozen features, fixed split).

lexical / syntactic: logistic regression on token states; structural: on pooled function states;
semantic: clone retrieval MAP from cosine similarity of pooled states (no training).
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from tqdm.auto import tqdm

from codereuse.analysis.config import ProbeConfig
from codereuse.analysis.features import layer_features
from codereuse.analysis.probe_data import ProbeSet
from codereuse.analysis.table import LayerTable
from codereuse.metrics import mean_reciprocal_rank
from codereuse.models import Backbone

PROPERTIES = ("lexical", "syntactic", "structural", "semantic")
METRICS = {
    "lexical": "token-type accuracy",
    "syntactic": "AST node-type accuracy",
    "structural": "complexity-class accuracy",
    "semantic": "clone retrieval MAP",
}


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 l2: float = 1e-2, max_iter: int = 50) -> tuple[float, float]:
    """(test accuracy, test macro-F1) of multinomial logistic regression on standardised features.

    Fitted in torch by full-batch L-BFGS from zero weights (deterministic): on a few thousand
    384-d tokens it matches scikit-learn's LogisticRegression accuracy at a fraction of its time.
    """
    classes, train_targets = np.unique(train_y, return_inverse=True)
    if classes.size < 2:  # nothing to separate: the probe can only answer that class
        return _scores(test_y, np.full_like(test_y, classes[0]))
    x_train, x_test = torch.from_numpy(train_x).float(), torch.from_numpy(test_x).float()
    mean, std = x_train.mean(dim=0), x_train.std(dim=0).clamp_min(1e-6)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    targets = torch.from_numpy(train_targets)
    probe = torch.nn.Linear(x_train.shape[1], classes.size)
    torch.nn.init.zeros_(probe.weight)
    torch.nn.init.zeros_(probe.bias)
    optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(probe(x_train), targets) + l2 / 2 * probe.weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad(), _single_thread():  # callers may run under inference mode
        optimizer.step(closure)
    with torch.no_grad():
        predictions = classes[probe(x_test).argmax(dim=1).numpy()]
    return _scores(test_y, predictions)


@contextlib.contextmanager
def _single_thread():
    """Probe-sized matrices are small: handing each op to a second thread costs more than it saves
    (4-7x slower on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _scores(truth: np.ndarray, predictions: np.ndarray) -> tuple[float, float]:
    return float(accuracy_score(truth, predictions)), float(f1_score(truth, predictions, average="macro", zero_division=0))


def retrieval_map(queries: np.ndarray, candidates: np.ndarray) -> float:
    """MAP of ranking all candidates for each query by cosine similarity, the relevant candidate of
    query ``i`` being candidate ``i``; with one relevant item per query MAP equals MRR."""
    q = torch.nn.functional.normalize(torch.from_numpy(queries).double(), dim=-1)
    c = torch.nn.functional.normalize(torch.from_numpy(candidates).double(), dim=-1)
    return mean_reciprocal_rank(q @ c.T)


def majority_accuracy(train_y: np.ndarray, test_y: np.ndarray) -> float:
    """What answering the train split's most frequent class scores: the floor a probe must beat."""
    return float(np.mean(test_y == np.bincount(train_y).argmax()))


def probe_layers(backbone: Backbone, probes: ProbeSet, config: ProbeConfig, layers: list[int],
                 name: str | None = None, progress: bool = True) -> LayerTable:
    """Scores of every layer in ``layers``; ``name`` labels the model (default: the spec's name)."""
    extract = dict(layers=layers, max_length=config.max_length, batch_size=config.batch_size,
                   pooling=config.pooling, progress=progress)
    functions = layer_features(backbone, probes.codes, positions=probes.positions, desc="probe features", **extract)
    code1 = layer_features(backbone, probes.clone_code1, desc="clone code1", **extract).pooled
    code2 = layer_features(backbone, probes.clone_code2, desc="clone code2", **extract).pooled
    supervised = {
        "lexical": (functions.tokens, probes.lexical, probes.token_is_train()),
        "syntactic": (functions.tokens, probes.syntactic, probes.token_is_train()),
        "structural": (functions.pooled, probes.structural, probes.function_is_train()),
    }
    values: dict[str, list[float]] = {prop: [] for prop in (*PROPERTIES, *(f"{p}_f1" for p in supervised))}
    for i in tqdm(range(len(layers)), desc="probes", unit="layer", disable=not progress, leave=False):
        for prop, (features, labels, train) in supervised.items():
            accuracy, macro_f1 = linear_probe(features[i][train], labels[train], features[i][~train], labels[~train])
            values[prop].append(accuracy)
            values[f"{prop}_f1"].append(macro_f1)
        values["semantic"].append(retrieval_map(code1[i], code2[i]))
    baselines = {prop: majority_accuracy(labels[train], labels[~train]) for prop, (_, labels, train) in supervised.items()}
    baselines["semantic"] = float(np.mean(1.0 / np.arange(1, len(code1[0]) + 1)))  # a random ranking's MRR
    counts = {"functions": len(probes.codes), "train_functions": probes.n_train, "tokens": len(probes.lexical),
              "train_tokens": int(probes.token_is_train().sum()), "clone_pairs": len(probes.clone_code1)}
    return LayerTable(
        "probes", name or backbone.spec.name, list(layers), values,
        info={"metrics": METRICS, "baselines": baselines, "counts": counts, "classes": probes.label_names,
              "pooling": config.pooling, "max_length": config.max_length},
        notes=[
            "baselines (majority class / random ranking): " + ", ".join(f"{k} {v:.3f}" for k, v in baselines.items()),
            "probe examples: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        ],
    )

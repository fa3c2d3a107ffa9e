"""Linear probes of every layer for Telly's four properties (frozen features, fixed split).

lexical / syntactic: logistic regression on token states; structural: on pooled function states;
semantic: clone retrieval MAP from cosine similarity of pooled states (no training), beside the
same MAP of TF-IDF bags of sub-words (``semantic_bow``): the score a layer has to beat to show
more than shared vocabulary.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from tqdm.auto import tqdm

from codereuse.analysis.config import ProbeConfig
from codereuse.models.features import layer_features
from codereuse.analysis.probe_data import CloneRetrieval, ProbeSet
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
REFERENCES = {"semantic_bow": "clone retrieval MAP of TF-IDF bags of sub-words (codereuse.data.tokens.words), no model"}
_CHUNK = 1024  # relevant (query, candidate) pairs ranked at once by mean_average_precision


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


def mean_average_precision(scores: torch.Tensor, relevant: torch.Tensor) -> float:
    """MAP of ranking the candidates (columns) of each query (row) by ``scores``; ``relevant`` is a
    bool matrix of the same shape. Queries without a relevant candidate are left out; a candidate
    scored ``-inf`` is never ranked (a query excluding itself). Ties count against the query, as in
    :func:`codereuse.metrics.mean_reciprocal_rank`: a relevant candidate tied with ``k`` others
    ranks ``k + 1``. With one relevant candidate per query MAP equals that MRR."""
    rows, cols = relevant.nonzero(as_tuple=True)
    if rows.numel() == 0:
        return 0.0
    precision = torch.empty(rows.numel(), dtype=torch.float64)
    for start in range(0, rows.numel(), _CHUNK):
        r, c = rows[start:start + _CHUNK], cols[start:start + _CHUNK]
        at_or_above = scores[r] >= scores[r, c].unsqueeze(1)  # (chunk, candidates)
        precision[start:start + _CHUNK] = (at_or_above & relevant[r]).sum(1).double() / at_or_above.sum(1).double()
    queries, per_query = rows.unique(return_inverse=True)
    average = torch.zeros(queries.numel(), dtype=torch.float64).index_add_(0, per_query, precision)
    return (average / torch.bincount(per_query).double()).mean().item()


def random_ranking_map(clones: CloneRetrieval) -> float:
    """Expected MAP of a uniformly random ranking: with R relevant of N candidates, a query's
    expected AP is (H_N + (R - 1) / (N - 1) * (N - H_N)) / N (H_N the N-th harmonic number)."""
    candidates = clones.relevant.shape[1] - (1 if clones.all_pairs else 0)
    harmonic = float(np.sum(1.0 / np.arange(1, candidates + 1)))
    counts = clones.relevant.sum(axis=1)
    counts = counts[counts > 0]
    spread = (counts - 1) / (candidates - 1) if candidates > 1 else np.zeros_like(counts, dtype=float)
    return float(np.mean((harmonic + spread * (candidates - harmonic)) / candidates))


def clone_map(queries: np.ndarray, candidates: np.ndarray | None, clones: CloneRetrieval) -> float:
    """MAP of ``clones`` from cosine similarity of the queries' and candidates' features (dense
    arrays or scipy sparse rows); ``candidates`` None when the queries rank each other."""
    if candidates is None:
        candidates = queries
    if hasattr(queries, "toarray"):  # sparse: normalise rows, multiply sparse, densify the (small) scores
        from sklearn.preprocessing import normalize

        scores = torch.from_numpy((normalize(queries) @ normalize(candidates).T).toarray()).double()
    else:
        q = torch.nn.functional.normalize(torch.from_numpy(queries).double(), dim=-1)
        c = torch.nn.functional.normalize(torch.from_numpy(candidates).double(), dim=-1)
        scores = q @ c.T
    if clones.all_pairs:
        scores.fill_diagonal_(float("-inf"))
    return mean_average_precision(scores, torch.from_numpy(clones.relevant))


def bag_of_words_map(clones: CloneRetrieval) -> float:
    """The lexical reference of the semantic probe: clone retrieval MAP with TF-IDF vectors of each
    function's sub-words (:func:`codereuse.data.tokens.words`: identifier parts, keywords, numbers),
    IDF fitted on the retrieval set itself (no labels)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from codereuse.data.tokens import words

    texts = clones.queries + (clones.candidates or [])
    vectors = TfidfVectorizer(analyzer=lambda text: sorted(words(text))).fit_transform(texts)
    n = len(clones.queries)
    return clone_map(vectors[:n], None if clones.all_pairs else vectors[n:], clones)


def majority_accuracy(train_y: np.ndarray, test_y: np.ndarray) -> float:
    """What answering the train split's most frequent class scores: the floor a probe must beat."""
    return float(np.mean(test_y == np.bincount(train_y).argmax()))


def probe_layers(backbone: Backbone, probes: ProbeSet, config: ProbeConfig, layers: list[int],
                 name: str | None = None, progress: bool = True) -> LayerTable:
    """Scores of every layer in ``layers``; ``name`` labels the model (default: the spec's name)."""
    extract = dict(layers=layers, max_length=config.max_length, batch_size=config.batch_size,
                   pooling=config.pooling, progress=progress)
    functions = layer_features(backbone, probes.codes, positions=probes.positions, desc="probe features", **extract)
    clones = probes.clones
    queries = layer_features(backbone, clones.queries, desc="clone queries", **extract).pooled
    candidates = None if clones.all_pairs else layer_features(backbone, clones.candidates, desc="clone candidates",
                                                                **extract).pooled
    supervised = {
        "lexical": (functions.tokens, probes.lexical, probes.token_is_train()),
        "syntactic": (functions.tokens, probes.syntactic, probes.token_is_train()),
        "structural": (functions.pooled, probes.structural, probes.function_is_train()),
    }
    columns = (*PROPERTIES, *REFERENCES, *(f"{p}_f1" for p in supervised))
    values: dict[str, list[float]] = {column: [] for column in columns}
    for i in tqdm(range(len(layers)), desc="probes", unit="layer", disable=not progress, leave=False):
        for prop, (features, labels, train) in supervised.items():
            accuracy, macro_f1 = linear_probe(features[i][train], labels[train], features[i][~train], labels[~train])
            values[prop].append(accuracy)
            values[f"{prop}_f1"].append(macro_f1)
        values["semantic"].append(clone_map(queries[i], None if candidates is None else candidates[i], clones))
    bag_of_words = bag_of_words_map(clones)
    values["semantic_bow"] = [bag_of_words] * len(layers)  # no model: one value, beside every layer's semantic
    baselines = {prop: majority_accuracy(labels[train], labels[~train]) for prop, (_, labels, train) in supervised.items()}
    baselines["semantic"] = random_ranking_map(clones)
    counts = {"functions": len(probes.codes), "train_functions": probes.n_train, "tokens": len(probes.lexical),
              "train_tokens": int(probes.token_is_train().sum()), "clone_pairs": clones.pairs,
              "clone_functions": clones.functions}
    n = len(clones.queries)
    protocol = (f"each of {n} functions ranks the other {n - 1}; its clone partners are relevant" if clones.all_pairs
                else f"each of {n} code1 ranks the {len(clones.candidates)} code2; its pair's code2 is relevant")
    semantic = {"source": clones.source, "pairs": clones.pairs, "functions": clones.functions, "protocol": protocol,
                "bag_of_words_map": bag_of_words}
    return LayerTable(
        "probes", name or backbone.spec.name, list(layers), values,
        info={"metrics": METRICS, "references": REFERENCES, "baselines": baselines, "counts": counts,
              "classes": probes.label_names, "semantic": semantic, "pooling": config.pooling,
              "max_length": config.max_length},
        notes=[
            "baselines (majority class / random ranking): " + ", ".join(f"{k} {v:.3f}" for k, v in baselines.items()),
            "probe examples: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
            f"semantic: {clones.source}, {clones.pairs} clone pairs; {protocol}",
            f"semantic_bow: the same retrieval with TF-IDF bags of sub-words, no model: MAP {bag_of_words:.3f}",
        ],
    )

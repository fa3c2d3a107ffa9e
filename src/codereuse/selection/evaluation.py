"""How good a ranking is against brute-force fine-tuning results, and the dataset-agnostic baselines."""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import kendalltau, pearsonr, weightedtau

from codereuse.selection.candidates import Candidate

BASELINES = ("size", "pretraining_data", "heuristic", "random")
RANDOM_DRAWS = 200


def ranking_metrics(scores: dict[str, float], truth: dict[str, float]) -> dict[str, float | None]:
    """Weighted Kendall tau (top ranks weigh more), Kendall tau, Pearson r, and top-1 regret (the
    relative loss of the candidate the scores pick against the best fine-tuned one)."""
    names = [n for n in truth if scores.get(n) is not None and math.isfinite(scores[n])]
    if len(names) < 2:
        return {"weighted_tau": None, "kendall_tau": None, "pearson": None, "top1_regret": None}
    s = np.array([scores[n] for n in names])
    t = np.array([truth[n] for n in names])
    best, picked = t.max(), t[int(np.argmax(s))]
    constant = np.ptp(s) == 0 or np.ptp(t) == 0
    return {
        "weighted_tau": None if constant else float(weightedtau(t, s).statistic),
        "kendall_tau": None if constant else float(kendalltau(t, s).statistic),
        "pearson": None if constant else float(pearsonr(t, s).statistic),
        "top1_regret": float((best - picked) / best) if best > 0 else None,
    }


def random_metrics(truth: dict[str, float], seed: int = 0) -> dict[str, float | None]:
    """The ``random`` baseline's expected metrics: the mean over many random score draws."""
    rng = np.random.default_rng(seed)
    draws = [ranking_metrics(dict(zip(truth, rng.random(len(truth)))), truth) for _ in range(RANDOM_DRAWS)]
    return {key: _mean([d[key] for d in draws]) for key in draws[0]}


def size_scores(candidates: list[Candidate], params: dict[str, int]) -> dict[str, float]:
    """Bigger is better."""
    return {c.name: float(params[c.name]) for c in candidates if c.name in params}


def pretraining_scores(candidates: list[Candidate]) -> dict[str, float]:
    """More pre-training examples is better, code in them breaks ties (+0.5 decades);
    unknown counts (fine-tuned, distilled) inherit nothing and score None."""
    scores = {}
    for c in candidates:
        examples = c.pretraining.get("examples")
        if examples is None:
            continue
        scores[c.name] = math.log10(1 + float(examples)) + (0.5 if c.pretraining.get("code") else 0.0)
    return scores


def heuristic_scores(names: list[str], other_tasks: dict[str, dict[str, float]]) -> dict[str, float]:
    """Dataset-agnostic: minus each candidate's mean rank (1 = best) over the other tasks' fine-tuning
    results; a candidate never evaluated elsewhere has no score."""
    ranks: dict[str, list[float]] = {n: [] for n in names}
    for results in other_tasks.values():
        ordered = sorted(results, key=results.get, reverse=True)
        for rank, name in enumerate(ordered, start=1):
            if name in ranks:
                ranks[name].append(rank)
    return {n: -float(np.mean(r)) for n, r in ranks.items() if r}


def bootstrap_interval(values: list[float | None], level: float = 0.95) -> list[float] | None:
    clean = [v for v in values if v is not None and math.isfinite(v)]
    if len(clean) < 2:
        return None
    low, high = np.percentile(clean, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return [float(low), float(high)]


def _mean(values):
    clean = [v for v in values if v is not None]
    return float(np.mean(clean)) if clean else None

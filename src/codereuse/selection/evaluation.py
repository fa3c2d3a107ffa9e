"""How good a ranking is against brute-force fine-tuning results, and the dataset-agnostic baselines."""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import kendalltau, pearsonr, weightedtau

from codereuse.selection.candidates import Candidate

BASELINES = ("size", "pretraining_data", "heuristic", "random")
RANDOM_DRAWS = 200
METRICS = ("weighted_tau", "kendall_tau", "pearson", "top1_regret", "top1_regret_worst")  # the numeric ones


def ranking_metrics(scores: dict[str, float], truth: dict[str, float]) -> dict:
    """Weighted Kendall tau (top ranks weigh more), Kendall tau (tau-b) and Pearson r over the
    candidates the scores rank, and top-1 regret: the relative loss of the candidate the scores
    pick against the best of the WHOLE ground truth, so a scorer that fails on the best candidate
    is not excused. Candidates tied at the top score are picked with equal chance: ``top1_regret``
    is the expected regret over the tie, ``top1_regret_worst`` the worst of it. ``complete`` is
    False when a candidate of ``truth`` has no finite score (``missing``, sorted): its metrics are
    over the rest and it is not compared with complete rankings (:func:`comparison_order`).
    Nothing depends on the pool's order (scipy's weighted tau ranks ties lexicographically by
    both variables, averaged)."""
    names = [n for n in truth if _finite(scores.get(n))]
    kept = set(names)
    result = {key: None for key in METRICS}
    result.update(complete=len(names) == len(truth), missing=sorted(n for n in truth if n not in kept), top1_picks=[])
    if not names:
        return result
    s = np.array([float(scores[n]) for n in names])
    t = np.array([truth[n] for n in names])
    best = max(v for v in truth.values() if _finite(v))
    if best > 0:
        regrets = (best - t[s == s.max()]) / best
        result.update(top1_regret=float(regrets.mean()), top1_regret_worst=float(regrets.max()),
                      top1_picks=sorted(n for n, v in zip(names, s) if v == s.max()))
    if len(names) >= 2 and np.ptp(s) > 0 and np.ptp(t) > 0:
        result.update(weighted_tau=float(weightedtau(t, s).statistic), kendall_tau=float(kendalltau(t, s).statistic),
                      pearson=float(pearsonr(t, s).statistic))
    return result


def comparison_order(evaluation: dict[str, dict]) -> list[str]:
    """Names of an evaluation (name -> ranking_metrics entry) in the order a comparison lists them:
    the complete rankings by weighted tau, best first, then those that left candidates out
    (``complete: false``), which never come out on top however well they rank the rest."""
    def key(name: str):
        entry = evaluation[name]
        tau = entry.get("weighted_tau")
        return (not entry.get("complete", True), -(tau if tau is not None else -9.0))
    return sorted(evaluation, key=key)


def best_ranking(evaluation: dict[str, dict], kind: str | None = "scorer") -> str | None:
    """The entry (of ``kind``, when given) with the highest weighted tau among the complete ones."""
    eligible = [n for n in comparison_order(evaluation) if evaluation[n].get("complete", True)
                and evaluation[n].get("weighted_tau") is not None and kind in (None, evaluation[n].get("kind"))]
    return eligible[0] if eligible else None


def random_metrics(truth: dict[str, float], seed: int = 0) -> dict:
    """The ``random`` baseline's expected metrics: the mean over many random score draws."""
    rng = np.random.default_rng(seed)
    draws = [ranking_metrics(dict(zip(truth, rng.random(len(truth)))), truth) for _ in range(RANDOM_DRAWS)]
    return {**{key: _mean([d[key] for d in draws]) for key in METRICS}, "complete": True, "missing": [], "top1_picks": []}


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


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _mean(values):
    clean = [v for v in values if v is not None]
    return float(np.mean(clean)) if clean else None

"""Score every candidate of a pool with every scorer, and (``evaluate``) judge the rankings.

Selection time = feature extraction (cold, from the cache's record) + the scorer's own time.
Bootstrap intervals redraw class-stratified subsamples of the probe sample and re-score.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from codereuse.errors import CodereuseError, first_line
from codereuse.selection.candidates import Candidate
from codereuse.selection.evaluation import (BASELINES, METRICS, bootstrap_interval, heuristic_scores,
                                            pretraining_scores, random_metrics, ranking_metrics, size_scores)
from codereuse.selection.features import CandidateFeatures
from codereuse.selection.probe import subsample


@dataclass
class Scored:
    candidates: list[Candidate]
    features: dict[str, CandidateFeatures]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # scorer -> candidate -> score
    seconds: dict[str, float] = field(default_factory=dict)  # scorer -> its own compute time
    failed: list[str] = field(default_factory=list)

    @property
    def extraction_seconds(self) -> float:
        return sum(f.seconds for f in self.features.values())

    def selection_seconds(self, scorer: str) -> float:
        return self.extraction_seconds + self.seconds.get(scorer, 0.0)


def score_pool(candidates: list[Candidate], features: dict[str, CandidateFeatures], labels: np.ndarray,
               scorers: dict[str, object], say=print) -> Scored:
    result = Scored(candidates, features)
    for scorer_name, scorer in scorers.items():
        started = time.perf_counter()
        result.scores[scorer_name] = {}
        errors: dict[str, list[str]] = {}  # message -> candidates
        for candidate in candidates:
            if candidate.name not in features:
                continue
            X = _final_layer(features[candidate.name])
            try:
                result.scores[scorer_name][candidate.name] = float(scorer(X, labels))
            except (ValueError, np.linalg.LinAlgError, CodereuseError) as error:
                result.failed.append(f"{scorer_name} on {candidate.name}: {error}")
                errors.setdefault(first_line(error), []).append(candidate.name)
        for message, names in errors.items():  # one line per distinct reason, not per candidate
            which = "every candidate" if not result.scores[scorer_name] else ", ".join(names)
            say(f"scorer {scorer_name} failed on {which}: {message}")
        if not result.scores[scorer_name]:  # nothing to rank with: left out of the tables
            del result.scores[scorer_name]
        result.seconds[scorer_name] = time.perf_counter() - started
    return result


def baseline_scores(scored: Scored, other_tasks: dict[str, dict[str, float]], seed: int) -> dict[str, dict]:
    names = [c.name for c in scored.candidates if c.name in scored.features]
    kept = [c for c in scored.candidates if c.name in names]
    rng = np.random.default_rng(seed)
    return {"size": size_scores(kept, {n: scored.features[n].params for n in names}),
            "pretraining_data": pretraining_scores(kept),
            "heuristic": heuristic_scores(names, other_tasks),
            "random": dict(zip(names, rng.random(len(names)).tolist()))}


def evaluate_rankings(scored: Scored, baselines: dict[str, dict], truth: dict[str, float], labels: np.ndarray,
                      scorers: dict[str, object], *, draws: int, fraction: float, seed: int,
                      truth_draws: list[dict[str, float]] | None = None) -> dict[str, dict]:
    """Per scorer and baseline: metrics on the whole pool and without the controls (``*_no_controls``),
    with bootstrap intervals (scorers only: baselines do not look at the probe sample) and, given
    ``truth_draws`` (ground truths resampled over seeds and test examples), the intervals of weighted
    tau and regret against them (``*_truth_ci``): how much of a ranking's quality is the ground truth's noise. ``complete``
    and ``missing`` say whether it scored every candidate of the ground truth; one that did not is
    listed after the complete ones (``evaluation.comparison_order``) and is never the best."""
    controls = {c.name for c in scored.candidates if c.control}
    plain = {n: v for n, v in truth.items() if n not in controls}
    report = {}
    for name, scores in {**scored.scores, **baselines}.items():
        if name == "random":
            whole, without = random_metrics(truth, seed), random_metrics(plain, seed)
        else:
            whole, without = ranking_metrics(scores, truth), ranking_metrics(scores, plain)
        entry = {**whole, **{f"{k}_no_controls": without[k] for k in METRICS},
                 "seconds": scored.selection_seconds(name) if name in scored.scores else 0.0,
                 "kind": "baseline" if name in BASELINES else "scorer"}
        if name in scorers and draws > 0:
            entry.update(_bootstrap(scored, scorers[name], truth, plain, labels, draws, fraction, seed))
        if truth_draws and name != "random":
            against = [ranking_metrics(scores, drawn) for drawn in truth_draws]
            entry.update(weighted_tau_truth_ci=bootstrap_interval([m["weighted_tau"] for m in against]),
                         top1_regret_truth_ci=bootstrap_interval([m["top1_regret"] for m in against]))
        report[name] = entry
    return report


def _bootstrap(scored, scorer, truth, plain, labels, draws, fraction, seed) -> dict:
    rng = np.random.default_rng(seed)
    whole, without = [], []
    for _ in range(draws):
        rows = subsample(labels, fraction, rng)
        scores = {}
        for name in truth:
            try:
                scores[name] = float(scorer(_final_layer(scored.features[name])[rows], labels[rows]))
            except (ValueError, np.linalg.LinAlgError):
                continue
        whole.append(ranking_metrics(scores, truth))
        without.append(ranking_metrics(scores, plain))
    return {"weighted_tau_ci": bootstrap_interval([m["weighted_tau"] for m in whole]),
            "top1_regret_ci": bootstrap_interval([m["top1_regret"] for m in whole]),
            "weighted_tau_no_controls_ci": bootstrap_interval([m["weighted_tau"] for m in without])}


def _final_layer(features: CandidateFeatures) -> np.ndarray:
    return features.layers[max(features.layers)]

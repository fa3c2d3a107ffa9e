"""Ranking metrics against the brute-force ground truth: top-1 regret over ties and against the whole
ground truth, incomplete rankings flagged and never the best, nothing depending on the pool's order."""
from __future__ import annotations

import numpy as np
import pytest

from codereuse.selection.candidates import Candidate
from codereuse.selection.evaluation import (METRICS, best_ranking, comparison_order, random_metrics,
                                            ranking_metrics)
from codereuse.selection.features import CandidateFeatures
from codereuse.selection.ranking import baseline_scores, evaluate_rankings, score_pool
from codereuse.selection.scorers import LogME

TRUTH = {"codebert": 0.80, "graphcodebert": 0.84, "unixcoder": 0.88, "codet5": 0.83, "roberta": 0.78,
         "minilm": 0.74, "mpnet": 0.79, "distilled": 0.70}


def reordered(mapping: dict, order: list[str]) -> dict:
    return {name: mapping[name] for name in order if name in mapping}


def test_top1_regret_is_the_expectation_over_a_tie_whatever_the_pool_order():
    """The pretraining_data baseline's shape: seven candidates share one score, the eighth trails."""
    scores = {name: 9.0 for name in TRUTH} | {"distilled": 8.0}
    tied = [v for n, v in TRUTH.items() if n != "distilled"]
    expected = np.mean([(0.88 - v) / 0.88 for v in tied])
    for order in (list(TRUTH), list(reversed(TRUTH)), sorted(TRUTH)):
        metrics = ranking_metrics(reordered(scores, order), reordered(TRUTH, order))
        assert metrics["top1_regret"] == pytest.approx(expected)  # ~0.081; argmax gave 0.091 or 0.102
        assert metrics["top1_regret_worst"] == pytest.approx((0.88 - 0.74) / 0.88)
        assert metrics["complete"] is True and metrics["missing"] == []


def test_regret_is_against_the_best_of_the_whole_ground_truth():
    """A scorer that fails on the best candidate ranks the rest perfectly: it still pays for missing it."""
    scores = {name: value for name, value in TRUTH.items() if name != "unixcoder"}
    metrics = ranking_metrics(scores, TRUTH)
    assert metrics["top1_regret"] == pytest.approx((0.88 - 0.84) / 0.88)  # it picks graphcodebert; was 0
    assert metrics["complete"] is False and metrics["missing"] == ["unixcoder"]
    assert metrics["weighted_tau"] == pytest.approx(1.0)  # over the candidates it scored
    nan_scored = ranking_metrics({**TRUTH, "unixcoder": float("nan")}, TRUTH)
    assert nan_scored["missing"] == ["unixcoder"] and nan_scored["top1_regret"] == metrics["top1_regret"]


def test_no_metric_depends_on_the_pool_order():
    """Ties in the scores and in the truth, some candidates unscored: every permutation of the pool
    gives the same metrics (scipy's weighted tau ranks ties lexicographically by both variables)."""
    rng = np.random.default_rng(0)
    for _ in range(60):
        names = [f"m{i}" for i in range(int(rng.integers(3, 9)))]
        truth = dict(zip(names, (rng.integers(0, 4, len(names)) / 4 + 0.1).tolist()))
        scores = {n: float(v) for n, v in zip(names, rng.integers(0, 3, len(names))) if rng.random() > 0.15}
        base = ranking_metrics(scores, truth)
        for _ in range(4):
            order = [str(n) for n in rng.permutation(names)]
            other = ranking_metrics(reordered(scores, order), reordered(truth, order))
            assert other.keys() == base.keys()
            for key, value in base.items():
                assert other[key] == (pytest.approx(value, abs=1e-12) if isinstance(value, float) else value), key


def test_an_incomplete_ranking_is_listed_after_the_complete_ones_and_never_the_best():
    evaluation = {
        "partial": {"weighted_tau": 0.95, "complete": False, "missing": ["unixcoder"], "kind": "scorer"},
        "logme": {"weighted_tau": 0.70, "complete": True, "missing": [], "kind": "scorer"},
        "nleep": {"weighted_tau": 0.80, "complete": True, "missing": [], "kind": "scorer"},
        "constant": {"weighted_tau": None, "complete": True, "missing": [], "kind": "scorer"},
        "size": {"weighted_tau": 0.90, "complete": True, "missing": [], "kind": "baseline"},
    }
    assert comparison_order(evaluation) == ["size", "nleep", "logme", "constant", "partial"]
    assert best_ranking(evaluation) == "nleep"
    assert best_ranking(evaluation, kind=None) == "size"
    assert best_ranking({"partial": evaluation["partial"]}) is None


def test_random_baseline_is_complete_and_reports_every_metric():
    metrics = random_metrics(TRUTH)
    assert metrics["complete"] is True and metrics["missing"] == []
    assert set(METRICS) <= set(metrics)
    expected = np.mean([(0.88 - v) / 0.88 for v in TRUTH.values()])  # a uniform pick
    assert metrics["top1_regret"] == pytest.approx(expected, abs=0.02)


class FailsOnWideFeatures:
    """Scores like LogME, but refuses the one candidate whose features are wider."""

    def __call__(self, X, y):
        if X.shape[1] > 8:
            raise ValueError("too wide")
        return LogME()(X, y)


def test_evaluate_rankings_keeps_the_old_keys_and_adds_the_new_beside_them():
    rng = np.random.default_rng(1)
    y = np.arange(30) % 2
    widths = {"a": 8, "b": 8, "c": 8, "best": 12, "ctrl": 8}
    candidates = [Candidate(n, "pretrained", {}, control=n == "ctrl",
                            pretraining={"examples": 1000 if n != "ctrl" else None, "code": True}) for n in widths]
    features = {n: CandidateFeatures({1: rng.normal(size=(30, d)) + (i + 1) * y[:, None]}, 1, 10 * (i + 1), 0.1)
                for i, (n, d) in enumerate(widths.items())}
    truth = {"a": 0.6, "b": 0.7, "c": 0.65, "best": 0.9, "ctrl": 0.5}
    scorers = {"logme": LogME(), "fragile": FailsOnWideFeatures()}
    scored = score_pool(candidates, features, y, scorers, say=lambda line: None)
    baselines = baseline_scores(scored, {}, seed=0)
    report = evaluate_rankings(scored, baselines, truth, y, scorers, draws=2, fraction=0.8, seed=0)
    for entry in report.values():
        assert {"weighted_tau", "weighted_tau_no_controls", "top1_regret", "top1_regret_no_controls", "seconds",
                "kind", "top1_regret_worst", "top1_regret_worst_no_controls", "complete", "missing"} <= set(entry)
        assert "complete_no_controls" not in entry and "missing_no_controls" not in entry
    assert report["logme"]["complete"] is True and "weighted_tau_ci" in report["logme"]
    assert report["fragile"]["complete"] is False and report["fragile"]["missing"] == ["best"]
    assert report["fragile"]["top1_regret"] > 0  # the best candidate is still the yardstick
    assert report["pretraining_data"]["missing"] == ["ctrl"]  # unknown pre-training: no score
    assert report["pretraining_data"]["top1_regret"] == pytest.approx(np.mean([0.3, 0.2, 0.25, 0.0]) / 0.9)
    complete = [report[name]["complete"] for name in comparison_order(report)]
    assert complete == sorted(complete, reverse=True)  # every complete ranking before any incomplete one
    assert best_ranking(report) == "logme"

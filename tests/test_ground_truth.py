"""The brute-force ground truth: rates chosen on validation, its noise, and what it cannot separate."""
from __future__ import annotations

import math

import pytest

from codereuse.selection.ground_truth import CandidateTruth, choose_on_validation, tied_with_best, truth_draws


def result(val: float, test: float) -> dict:
    return {"val_metrics": {"val/acc": val}, "test_metrics": {"test/acc": test}}


def test_each_candidate_gets_the_rate_with_the_best_mean_validation_score():
    runs = {("a", 1e-4, 0): result(0.70, 0.60), ("a", 1e-4, 1): result(0.72, 0.62),
            ("a", 1e-3, 0): result(0.80, 0.50), ("a", 1e-3, 1): result(0.60, 0.52),   # mean val 0.70 < 0.71
            ("b", 1e-4, 0): result(0.50, 0.90), ("b", 1e-3, 0): result(0.55, 0.40)}
    truths = choose_on_validation(runs, "acc", test_examples=300)
    assert truths["a"].lr == 1e-4 and truths["a"].test == (0.60, 0.62) and truths["a"].value == pytest.approx(0.61)
    assert truths["b"].lr == 1e-3 and truths["b"].value == pytest.approx(0.40)  # test never picks the rate
    assert truths["a"].validation == {1e-4: pytest.approx(0.71), 1e-3: pytest.approx(0.70)}


def test_the_standard_error_combines_seeds_and_test_sampling():
    truth = CandidateTruth(1e-4, {}, (0.60, 0.64, 0.68), test_examples=400)
    seeds = 0.04 / math.sqrt(3)  # sample std of (0.60, 0.64, 0.68) is 0.04
    sampling = math.sqrt(0.64 * 0.36 / 400)
    assert truth.se == pytest.approx(math.sqrt(seeds ** 2 + sampling ** 2))


def test_candidates_within_two_standard_errors_of_the_best_are_tied_with_it():
    truths = {"best": CandidateTruth(0, {}, (0.80, 0.80), 100), "close": CandidateTruth(0, {}, (0.75, 0.75), 100),
              "far": CandidateTruth(0, {}, (0.50, 0.50), 100)}
    # best-close: 0.05 against 2 * hypot(0.040, 0.0433) = 0.118; best-far: 0.30 against 0.128
    assert tied_with_best(truths) == ["best", "close"]


def test_draws_resample_seeds_and_add_sampling_noise():
    exact = {"a": CandidateTruth(0, {}, (0.7,), 0), "b": CandidateTruth(0, {}, (0.5,), 0)}
    assert truth_draws(exact, 3, seed=0) == [{"a": 0.7, "b": 0.5}] * 3  # one seed, no sampling error: no noise
    noisy = {"a": CandidateTruth(0, {}, (0.6, 0.7, 0.8), 300)}
    values = [d["a"] for d in truth_draws(noisy, 400, seed=1)]
    assert min(values) < 0.65 and max(values) > 0.75 and abs(sum(values) / len(values) - 0.7) < 0.01


def test_a_single_rate_needs_no_validation_and_several_do():
    runs = {("a", 1e-3, 0): {"test_metrics": {"test/acc": 0.6}}, ("b", 1e-3, 0): {"test_metrics": {"test/acc": 0.5}}}
    assert {n: t.value for n, t in choose_on_validation(runs, "acc", 10).items()} == {"a": 0.6, "b": 0.5}
    runs[("a", 1e-2, 0)] = {"test_metrics": {"test/acc": 0.9}}
    assert set(choose_on_validation(runs, "acc", 10)) == {"b"}  # two rates of a, no validation to choose by

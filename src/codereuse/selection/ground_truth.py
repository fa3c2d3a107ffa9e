"""The brute-force ground truth with its own noise: each candidate fine-tuned at every rate of a small
grid and several seeds, its rate chosen on validation (mean over seeds), its value the mean test
score at that rate. Draws of the ground truth resample the seeds and add the test split's sampling
error, so intervals of a ranking's quality include the noise of what it is judged against, and
candidates the ground truth cannot tell from the best are reported as tied with it."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codereuse.evaluation.verdict import Z  # standard errors a difference must exceed to count



@dataclass(frozen=True)
class CandidateTruth:
    lr: float  # the rate chosen on validation
    validation: dict[float, float]  # each rate's mean validation score over seeds
    test: tuple[float, ...]  # the test score of each seed at the chosen rate
    test_examples: int  # how many test examples each score is a mean over

    @property
    def value(self) -> float:
        return float(np.mean(self.test))

    @property
    def se(self) -> float:
        """Seed-to-seed error of the mean and the test split's binomial sampling error, combined.
        The sampling error is taken as independent per candidate: conservative, as all candidates
        share one test split."""
        seeds = float(np.std(self.test, ddof=1) / math.sqrt(len(self.test))) if len(self.test) > 1 else 0.0
        return math.sqrt(seeds ** 2 + _sampling_se(self.value, self.test_examples) ** 2)


def choose_on_validation(runs: dict[tuple[str, float, int], dict], metric: str,
                         test_examples: int) -> dict[str, CandidateTruth]:
    """``runs``: (candidate, lr, seed) -> a brute-force result (``test_metrics``, ``val_metrics``);
    ``test_examples``: the size of the evaluated test split. Per candidate, the rate with the best mean validation ``metric`` over seeds
    (the first of the grid among equals) and its seeds' test scores. A grid of one rate needs no
    validation; otherwise a candidate without validation scores is left out."""
    by_candidate: dict[str, dict[float, dict[int, dict]]] = {}
    for (name, lr, seed), result in runs.items():
        if result is not None:
            by_candidate.setdefault(name, {}).setdefault(lr, {})[seed] = result
    truths = {}
    for name, rates in by_candidate.items():
        validation = {lr: float(np.mean([r["val_metrics"][f"val/{metric}"] for r in seeds.values()]))
                      for lr, seeds in rates.items() if all(f"val/{metric}" in r.get("val_metrics", {}) for r in seeds.values())}
        if validation:
            lr = max(validation, key=lambda rate: (validation[rate], -list(rates).index(rate)))
        elif len(rates) == 1:  # one rate: nothing to choose, validation may be switched off
            lr = next(iter(rates))
        else:
            continue
        seeds = rates[lr]
        truths[name] = CandidateTruth(lr, validation, tuple(seeds[s]["test_metrics"][f"test/{metric}"] for s in sorted(seeds)),
                                      test_examples)
    return truths


def tied_with_best(truths: dict[str, CandidateTruth]) -> list[str]:
    """The candidates whose value is not below the best's by more than ``Z`` combined standard
    errors: the ground truth cannot order them (the best included)."""
    best = max(truths, key=lambda n: truths[n].value)
    return sorted(n for n, t in truths.items()
                  if truths[best].value - t.value <= Z * math.hypot(truths[best].se, t.se))


def truth_draws(truths: dict[str, CandidateTruth], draws: int, seed: int) -> list[dict[str, float]]:
    """Ground truths as they could have come out: each candidate's seeds resampled with replacement
    and its mean moved by a draw of the test split's sampling error."""
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(draws):
        values = {}
        for name, truth in truths.items():
            seeds = rng.choice(np.asarray(truth.test), size=len(truth.test), replace=True)
            values[name] = float(seeds.mean() + rng.normal(0.0, _sampling_se(truth.value, truth.test_examples)))
        drawn.append(values)
    return drawn


def _sampling_se(value: float, examples: int) -> float:
    """Binomial error of a proportion-like score over ``examples`` (0 when unknown)."""
    if examples <= 0:
        return 0.0
    p = min(max(value, 0.0), 1.0)
    return math.sqrt(p * (1 - p) / examples)

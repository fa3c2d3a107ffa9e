"""When does a score beat a reference, and when is a task a yardstick?

A gap counts only when it exceeds two standard errors of the difference (the two errors added in
quadrature). A task is a yardstick for method comparisons when the frozen model beats the lexical
floor and the best trained arm beats the frozen model, each by such a gap: only then can a method
result show something a bag of words or the untrained model does not already know.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

Z = 2.0  # standard errors a gap has to exceed


def standard_error(per_example: Sequence[float]) -> float:
    """Standard error of the mean of per-example scores (0/1 correctness, reciprocal ranks);
    NaN for fewer than two examples."""
    values = [float(v) for v in per_example]
    n = len(values)
    if n < 2:
        return math.nan
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def beats(score: float, score_se: float | None, reference: float, reference_se: float | None) -> bool:
    """``score`` exceeds ``reference`` by more than :data:`Z` standard errors of the difference
    (an unknown error counts as zero, so with no errors at all any positive gap counts)."""
    errors = [e for e in (score_se, reference_se) if e is not None and not math.isnan(e)]
    return score - reference > Z * math.sqrt(sum(e * e for e in errors))


def is_yardstick(floor: float, floor_se: float | None, frozen: float, frozen_se: float | None,
                 best: float, best_se: float | None) -> bool:
    """Frozen beats the lexical floor and the best trained arm beats frozen (see module doc)."""
    return beats(frozen, frozen_se, floor, floor_se) and beats(best, best_se, frozen, frozen_se)


def verdict(score: float, floor: float | None, frozen: float | None) -> str:
    """One line: how far ``score`` sits above (or below) each reference."""
    parts = [f"{score - value:+.3f} over the {what}" for what, value in
             (("lexical floor", floor), ("frozen model", frozen)) if value is not None]
    return ", ".join(parts) if parts else "no reference to compare with"

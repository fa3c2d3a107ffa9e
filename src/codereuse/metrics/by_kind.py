"""Accuracy per example kind (the ``kind`` field of a task's records, e.g. clone's ``rewrite``,
``hard_negative`` and ``sibling`` pairs), for the model and for the task's best floor beside it:
an overall accuracy near the floor says little until one sees which kinds each gets right."""
from __future__ import annotations

from collections import defaultdict


def accuracy_by_kind(kinds: list[str | None], labels: dict[int, int] | list[int],
                     predicted: dict[int, int] | list[int]) -> dict[str, float]:
    """``{kind: accuracy}`` over the examples with a prediction: ``kinds[i]`` is example ``i``'s
    kind (None: not counted), ``labels[i]`` and ``predicted[i]`` its true and predicted label."""
    available = predicted.keys() if isinstance(predicted, dict) else range(len(predicted))
    hits: dict[str, list[bool]] = defaultdict(list)
    for index in available:
        if index < len(kinds) and kinds[index] is not None:
            hits[kinds[index]].append(int(predicted[index]) == int(labels[index]))
    return {kind: sum(values) / len(values) for kind, values in sorted(hits.items())}


def record_kinds(records: list[dict]) -> list[str | None] | None:
    """Each record's kind, or None when no record has one."""
    kinds = [r.get("kind") for r in records]
    return kinds if any(k is not None for k in kinds) else None


def floor_by_kind(records: list[dict], floor_predicted: list[int]) -> dict[str, float]:
    """``test/floor/<kind>``: a floor's accuracy on each kind of the evaluated records."""
    correct = [int(p) == int(r["label"]) for p, r in zip(floor_predicted, records)]
    return reference_by_kind(records, correct, "floor")


def reference_by_kind(records: list[dict], correct, reference: str) -> dict[str, float]:
    """``test/<reference>/<kind>``: the share of each kind of the evaluated records a reference
    (``floor``, ``frozen``) got right, from its per-record correctness."""
    kinds = record_kinds(records) or []
    return {f"test/{reference}/{kind}": value
            for kind, value in accuracy_by_kind(kinds, [1] * len(correct), [int(c) for c in correct]).items()}

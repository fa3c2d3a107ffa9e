"""Accuracy per example kind (the ``kind`` field of a task's records, e.g. clone's ``rewrite``,
``hard_negative`` and ``sibling`` pairs), for the model and for the task's best floor beside it:
an overall accuracy near the floor says little until one sees which kinds each gets right."""
from __future__ import annotations

from collections import defaultdict


def accuracy_by_kind(records: list[dict], predicted: dict[int, int] | list[int]) -> dict[str, float]:
    """``{kind: accuracy}`` over the records with a prediction (``predicted[i]`` is record ``i``'s)."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for index, record in enumerate(records):
        if "kind" in record and (index in predicted if isinstance(predicted, dict) else index < len(predicted)):
            hits[record["kind"]].append(int(predicted[index]) == int(record["label"]))
    return {kind: sum(values) / len(values) for kind, values in sorted(hits.items())}


def kind_metrics(records: list[dict], predicted: dict[int, int], floor_predicted: list[int] | None = None) -> dict[str, float]:
    """``test/acc/<kind>`` for the model and, given the floor's predictions, ``test/floor/<kind>``."""
    out = {f"test/acc/{kind}": value for kind, value in accuracy_by_kind(records, predicted).items()}
    if floor_predicted is not None:
        out.update({f"test/floor/{kind}": value for kind, value in accuracy_by_kind(records, floor_predicted).items()})
    return out

"""Per-kind accuracy: known answers, partial predictions, examples without kinds."""
from __future__ import annotations

import pytest

from codereuse.metrics.by_kind import accuracy_by_kind, floor_by_kind, record_kinds

RECORDS = [{"kind": "rewrite", "label": 1}, {"kind": "rewrite", "label": 1}, {"kind": "sibling", "label": 0},
           {"kind": "hard_negative", "label": 0}, {"label": 1}]
KINDS, LABELS = record_kinds(RECORDS), [r["label"] for r in RECORDS]


def test_accuracy_per_kind_known_answer():
    predicted = {0: 1, 1: 0, 2: 0, 3: 1, 4: 1}
    assert accuracy_by_kind(KINDS, LABELS, predicted) == {"hard_negative": 0.0, "rewrite": 0.5, "sibling": 1.0}
    # a floor's predictions come as a list; examples without a prediction are left out, not counted wrong
    assert accuracy_by_kind(KINDS, LABELS, [1, 1]) == {"rewrite": 1.0}
    assert accuracy_by_kind(KINDS, {2: 0}, {2: 1}) == {"sibling": 0.0}


def test_floor_by_kind_and_records_without_kinds():
    assert floor_by_kind(RECORDS, [0, 0, 0, 0, 0]) == pytest.approx(
        {"test/floor/rewrite": 0.0, "test/floor/sibling": 1.0, "test/floor/hard_negative": 1.0})
    assert KINDS == ["rewrite", "rewrite", "sibling", "hard_negative", None]
    assert record_kinds([{"label": 0}, {"label": 1}]) is None

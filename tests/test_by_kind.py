"""Per-kind accuracy: known answers, partial predictions, records without kinds."""
from __future__ import annotations

import pytest

from codereuse.metrics.by_kind import accuracy_by_kind, kind_metrics

RECORDS = [{"kind": "rewrite", "label": 1}, {"kind": "rewrite", "label": 1}, {"kind": "sibling", "label": 0},
           {"kind": "hard_negative", "label": 0}, {"label": 1}]


def test_accuracy_per_kind_known_answer():
    predicted = {0: 1, 1: 0, 2: 0, 3: 1, 4: 1}
    assert accuracy_by_kind(RECORDS, predicted) == {"hard_negative": 0.0, "rewrite": 0.5, "sibling": 1.0}
    # a floor's predictions come as a list; records without a prediction are left out, not counted wrong
    assert accuracy_by_kind(RECORDS, [1, 1]) == {"rewrite": 1.0}
    assert accuracy_by_kind(RECORDS, {2: 1}) == {"sibling": 0.0}


def test_kind_metrics_names_the_model_and_the_floor():
    out = kind_metrics(RECORDS, {0: 1, 1: 1, 2: 1, 3: 0}, [0, 0, 0, 0])
    assert out == pytest.approx({"test/acc/rewrite": 1.0, "test/acc/sibling": 0.0, "test/acc/hard_negative": 1.0,
                                 "test/floor/rewrite": 0.0, "test/floor/sibling": 1.0, "test/floor/hard_negative": 1.0})
    assert kind_metrics(RECORDS, {0: 1}) == {"test/acc/rewrite": 1.0}

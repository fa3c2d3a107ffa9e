"""The frozen-model reference: a linear probe / zero-shot score of the untrained backbone."""
from __future__ import annotations

import numpy as np
import pytest

from codereuse.evaluation import frozen
from codereuse.evaluation.frozen import Encoder, frozen_reference

LENGTHS = {"max_length": 64, "max_query_length": 16}


class TableEncoder:
    """Features looked up in a table; records which texts it was asked to encode."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table, self.seen, self.calls = table, [], []

    def __call__(self, texts, max_length):
        self.seen.extend(texts)
        self.calls.append(list(texts))
        return np.array([self.table[t] for t in texts], dtype=np.float32)


def _classification(n: int, rng) -> tuple[list[dict], dict]:
    """Label = sign of the feature's first coordinate; the text itself says nothing."""
    records, table = [], {}
    for i in range(n):
        x = rng.normal(size=4)
        text = f"def f{i}(): pass"
        table[text] = x.tolist()
        records.append({"code": text, "label": int(x[0] > 0)})
    return records, table


def test_linear_probe_reads_what_the_features_encode():
    rng = np.random.default_rng(0)
    train, table = _classification(200, rng)
    test, more = _classification(50, rng)
    table.update(more)
    reference = frozen_reference(TableEncoder(table), "classification", train, test, **LENGTHS)
    assert reference.name == "linear_probe_accuracy" and reference.score > 0.95
    assert len(reference.per_example) == 50 and 0 <= reference.se < 0.05


def test_linear_probe_is_at_chance_when_features_carry_no_label():
    rng = np.random.default_rng(1)
    train, table = _classification(300, rng)
    test, more = _classification(300, rng)
    table.update(more)
    for r in train + test:  # labels drawn independently of the features
        r["label"] = int(rng.integers(2))
    reference = frozen_reference(TableEncoder(table), "classification", train, test, **LENGTHS)
    assert abs(reference.score - 0.5) < 0.1


def test_probe_is_fitted_on_train_only():
    rng = np.random.default_rng(2)
    train, table = _classification(100, rng)
    test, more = _classification(40, rng)
    table.update(more)
    encoder = TableEncoder(table)
    honest = frozen_reference(encoder, "classification", train, test, **LENGTHS)
    flipped = [{**r, "label": 1 - r["label"]} for r in test]  # test labels cannot move the fit
    poisoned = frozen_reference(encoder, "classification", train, flipped, **LENGTHS)
    np.testing.assert_array_equal(poisoned.per_example, 1 - honest.per_example)
    assert set(encoder.seen) <= {r["code"] for r in train + test}


def test_pair_probe_sees_both_sides_and_encodes_each_text_once():
    # clones share their feature vector; non-clones do not: only |u - v| / u * v can tell
    rng = np.random.default_rng(3)
    table, records = {}, []
    for i in range(240):
        a, b = f"a{i}", f"b{i}"
        table[a] = rng.normal(size=6).tolist()
        clone = i % 2 == 0
        table[b] = table[a] if clone else rng.normal(size=6).tolist()
        records.append({"code1": a, "code2": b, "label": int(clone)})
    records.append({"code1": "a0", "code2": "b0", "label": 1})  # a repeated pair: encoded once
    encoder = TableEncoder(table)
    reference = frozen_reference(encoder, "pair", records[:180], records[180:], **LENGTHS)
    assert reference.score > 0.9
    assert all(len(call) == len(set(call)) for call in encoder.calls)  # each text once per split
    assert len(reference.per_example) == len(records) - 180


def test_zero_shot_mrr_matches_a_hand_computed_value():
    # cosine scores: q0 ranks c0 first; q1 ranks c0 above c1 (rank 2); q2 ties c2 with c0 (rank 2)
    table = {"q0": [1, 0, 0], "q1": [0.9, 0.1, 0], "q2": [0.5, 0, 0.5],
             "c0": [1, 0, 0], "c1": [0, 1, 0], "c2": [0, 0, 1]}
    records = [{"query": f"q{i}", "code": f"c{i}"} for i in range(3)]
    reference = frozen_reference(TableEncoder(table), "retrieval", [], records, **LENGTHS)
    assert reference.name == "zero_shot_mrr"
    np.testing.assert_allclose(reference.per_example, [1.0, 0.5, 0.5])
    assert reference.score == pytest.approx(2 / 3)


def test_seq2seq_has_no_frozen_reference():
    assert frozen_reference(TableEncoder({}), "seq2seq", [], [{"source": "a", "target": "b"}], **LENGTHS) is None


def test_encoder_caches_features_on_disk(tmp_path, monkeypatch):
    encoder = Encoder({"name": "tiny", "source": "tiny", "max_length": 64, "pooling": "mean",
                       "tiny": {"arch": "bert", "hidden": 32, "layers": 2, "heads": 2}}, cache_dir=tmp_path, progress=False)
    texts = ["def f(x): return x + 1", "def g(): pass"]
    first = encoder(texts, 32)
    assert first.shape == (2, 32) and len(list((tmp_path / "frozen").glob("*.npy"))) == 1
    import codereuse.models.features as features

    monkeypatch.setattr(features, "layer_features", lambda *a, **k: pytest.fail("recomputed a cached entry"))
    np.testing.assert_array_equal(encoder(texts, 32), first)
    next((tmp_path / "frozen").glob("*.npy")).write_bytes(b"truncated")  # a corrupt entry is recomputed
    monkeypatch.undo()
    np.testing.assert_allclose(encoder(texts, 32), first, rtol=1e-5, atol=1e-6)


def test_probe_training_set_is_capped(monkeypatch):
    monkeypatch.setattr(frozen, "MAX_TRAIN", 10)
    rng = np.random.default_rng(4)
    train, table = _classification(50, rng)
    encoder = TableEncoder(table)
    frozen_reference(encoder, "classification", train, train[:5], **LENGTHS)
    assert len(encoder.seen) == 10 + 5


def test_regularisation_is_chosen_on_validation_and_test_is_scored_once(monkeypatch):
    rng = np.random.default_rng(5)
    train, table = _classification(40, rng)
    valid, more = _classification(20, rng)
    test, rest = _classification(20, rng)
    table.update(more, **rest)
    valid_labels = np.array([r["label"] for r in valid])
    calls = []

    def fake_probe(x_train, y_train, x_eval, c):  # right on validation only at C=0.01
        calls.append((len(x_eval), c))
        return valid_labels if c == 0.01 and len(x_eval) == len(valid) else 1 - valid_labels[: len(x_eval)]

    monkeypatch.setattr(frozen, "_probe", fake_probe)
    frozen_reference(TableEncoder(table), "classification", train, test, valid_records=valid, **LENGTHS)
    assert calls[:-1] == [(len(valid), c) for c in frozen.C_GRID] and calls[-1] == (len(test), 0.01)

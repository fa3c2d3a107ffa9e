"""models.features.layer_features: a batch gives each input what it gets alone, pooled and at positions."""
from __future__ import annotations

import numpy as np
import torch

from codereuse.models import load_backbone
from codereuse.models.features import encode, layer_features

SPEC = {"name": "tiny_bert", "architecture": "encoder", "source": "tiny", "max_length": 64, "pooling": "mean",
        "tiny": {"arch": "bert", "hidden": 32, "layers": 2, "heads": 2}}
TEXTS = ["def f(x): return x", "def g(a, b):\n    total = a + b\n    return total * 2", "x = 1"]


def test_a_batch_equals_each_input_alone_pooled_and_at_its_positions():
    backbone = load_backbone(SPEC)
    backbone.model.eval()  # the reference below runs without dropout, as extraction does
    positions = [[0, 2], [1, 3, 5], [0]]
    batched = layer_features(backbone, TEXTS, layers=[0, 2], max_length=64, positions=positions, batch_size=3,
                             progress=False)
    assert batched.pooled.shape == (2, 3, 32) and batched.tokens.shape == (2, 6, 32)
    start = 0
    for text, picked in zip(TEXTS, positions):
        ids = torch.tensor([encode(backbone.tokenizer, [text], 64)["input_ids"][0]])
        with torch.inference_mode():
            states = backbone.model.base_model(input_ids=ids, output_hidden_states=True).hidden_states
        for k, layer in enumerate((0, 2)):
            expected_mean = states[layer][0].mean(dim=0).numpy()  # one input: every token is real
            np.testing.assert_allclose(batched.pooled[k, TEXTS.index(text)], expected_mean, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(batched.tokens[k, start:start + len(picked)], states[layer][0, picked].numpy(),
                                       rtol=1e-4, atol=1e-5)
        start += len(picked)

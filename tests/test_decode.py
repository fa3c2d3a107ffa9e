"""The fresh decoder's cached generation: same tokens as the full-prefix decoder, exact beam search."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from codereuse.methods.decoder import DecoderCache, FreshDecoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from decode import greedy_recompute  # noqa: E402  the pre-cache reference, kept with its benchmark

BOS, EOS = 0, 1


def decoder_and_memory(vocab: int, hidden: int = 16, seed: int = 0, batch: int = 3):
    torch.manual_seed(seed)
    decoder = FreshDecoder(nn.Embedding(vocab, hidden), heads=2, layers=2, max_length=20, dropout=0.1).eval()
    memory = torch.randn(batch, 7, hidden)
    mask = torch.ones(batch, 7, dtype=torch.long)
    mask[1, 4:] = 0  # a padded source: its padding must not be attended to
    return decoder, memory, mask


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_greedy_matches_the_full_prefix_decoder(seed):
    decoder, memory, mask = decoder_and_memory(vocab=50, seed=seed)
    before = greedy_recompute(decoder, memory, mask, BOS, EOS, max_new_tokens=18)
    after = decoder.generate(memory, mask, BOS, EOS, max_new_tokens=18)
    assert after.shape == before.shape and torch.equal(after, before)


def test_step_logits_equal_the_training_forward():
    decoder, memory, mask = decoder_and_memory(vocab=50)
    targets = torch.randint(2, 50, (3, 9))
    with torch.no_grad():
        full = decoder(targets, memory, mask)
        cache = DecoderCache(decoder.layers, memory, mask)
        stepped = torch.stack([decoder.step(targets[:, i], i, cache) for i in range(targets.shape[1])], dim=1)
    torch.testing.assert_close(stepped, full, rtol=1e-4, atol=1e-4)
    # padding really is masked: changing padded memory rows changes nothing
    noisy = memory.clone()
    noisy[1, 4:] += 100.0
    with torch.no_grad():
        assert torch.allclose(decoder(targets, noisy, mask)[1], full[1], atol=1e-4)


def sequence_log_prob(decoder, memory, mask, tokens: tuple[int, ...]) -> float:
    inputs = torch.tensor([(BOS, *tokens[:-1])])
    with torch.no_grad():
        logp = torch.log_softmax(decoder(inputs, memory, mask), dim=-1)[0]
    return float(sum(logp[i, t] for i, t in enumerate(tokens)))


def test_wide_beam_search_finds_the_best_sequence_by_brute_force():
    """With as many beams as sequences, beam search is exhaustive: its answer must be the argmax of
    log p / length over every sequence that ends with EOS or reaches the length limit."""
    vocab, steps = 4, 3
    decoder, memory, mask = decoder_and_memory(vocab=vocab, batch=2)
    got = decoder.generate(memory, mask, BOS, EOS, max_new_tokens=steps, num_beams=vocab ** steps)
    for row in range(2):
        candidates = [s for n in range(1, steps + 1) for s in itertools.product(range(vocab), repeat=n)
                      if EOS not in s[:-1] and (s[-1] == EOS or n == steps)]
        scores = {s: sequence_log_prob(decoder, memory[row:row + 1], mask[row:row + 1], s) / len(s) for s in candidates}
        best = max(scores, key=scores.get)
        answer = tuple(got[row].tolist())
        answer = answer[: answer.index(EOS) + 1] if EOS in answer else answer
        assert answer == best


def test_a_single_beam_is_greedy():
    decoder, memory, mask = decoder_and_memory(vocab=30, seed=3)
    greedy = decoder.generate(memory, mask, BOS, EOS, max_new_tokens=6)
    single = decoder.beam_search(memory, mask, BOS, EOS, 6, 1, 1.0)
    assert torch.equal(single[:, :greedy.shape[1]], greedy)
    assert (single[:, greedy.shape[1]:] == EOS).all()  # a finished beam only pads with EOS

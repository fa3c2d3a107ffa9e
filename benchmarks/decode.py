"""Seq2seq decoding speed of the fresh decoder (encoder-only backbones): before vs after the cache.

    python benchmarks/decode.py [--examples 32] [--repeats 2] [overrides ...]

"before" is the previous greedy decoder (whole prefix and all positions' vocabulary logits
recomputed every step, :func:`greedy_recompute` below); "after" is ``FreshDecoder.generate`` (one
position per step, key/value cache). Both decode the same MiniLM summarize test examples from the
same encoder states, alternately, in this process; the decoder is untrained (seeded), so sequences
run to ``task.max_target_length``, the worst case. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from codereuse.methods.task_model import _bos, _eos, _widen
from common import build, compose_train


@torch.no_grad()
def greedy_recompute(decoder, memory, memory_mask, bos: int, eos: int, max_new_tokens: int) -> torch.Tensor:
    """Greedy decoding as it was before the cache: the whole prefix and every position's vocabulary
    logits recomputed at each step. Kept as the reference the cached path is tested and timed against."""
    batch = memory.shape[0]
    tokens = torch.full((batch, 1), bos, dtype=torch.long, device=memory.device)
    done = torch.zeros(batch, dtype=torch.bool, device=memory.device)
    for _ in range(min(max_new_tokens, decoder.positions.num_embeddings - 1)):
        next_token = decoder(tokens, memory, memory_mask)[:, -1].argmax(dim=-1)
        next_token = next_token.masked_fill(done, eos)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        done |= next_token == eos
        if done.all():
            break
    return tokens[:, 1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=32, help="test examples (seeded subset), one batch")
    parser.add_argument("--repeats", type=int, default=2, help="alternating timed rounds of each decoder")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadiest on a shared 2-core machine)")
    parser.add_argument("overrides", nargs="*", default=[])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = compose_train(["model=minilm", "task=summarize", f"task.max_eval_examples={args.examples}",
                         f"task.eval_batch_size={args.examples}", "logger=none", *args.overrides])
    _, module, datamodule = build(cfg)
    model = module.model.eval()
    batch = next(iter(datamodule.test_dataloader()))
    tokenizer, limit = model.tokenizer, model.max_target_length
    with torch.no_grad():
        memory = model.field_states(batch, "source")
        mask = _widen(batch["source_mask"], memory.shape[1])
    decoders = {"before": lambda: greedy_recompute(model.decoder, memory, mask, _bos(tokenizer), _eos(tokenizer), limit),
                "after": lambda: model.decoder.generate(memory, mask, _bos(tokenizer), _eos(tokenizer), limit)}
    seconds, outputs = {"before": 0.0, "after": 0.0}, {}
    for round_ in range(args.repeats):
        for name in (("before", "after") if round_ % 2 == 0 else ("after", "before")):  # alternate who goes first
            decode = decoders[name]
            started = time.perf_counter()
            outputs[name] = decode()
            seconds[name] += time.perf_counter() - started
    rate = {name: args.repeats * memory.shape[0] / seconds[name] for name in seconds}
    print(json.dumps({"model": "minilm", "task": "summarize", "examples": memory.shape[0], "repeats": args.repeats,
                      "threads": args.threads,
                      "max_target_length": limit, "generated_tokens": outputs["after"].shape[1],
                      "before_examples_per_s": round(rate["before"], 3), "after_examples_per_s": round(rate["after"], 3),
                      "speedup": round(rate["after"] / rate["before"], 2),
                      "same_outputs": bool(torch.equal(outputs["before"], outputs["after"]))}))


if __name__ == "__main__":
    main()

"""``PrefixCache.fill`` (the caching epoch's frozen-prefix work without training steps), ``estimate``
(the plan's numbers) and ``distinct_sequences`` (what a cache of a data module's rows stores)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from codereuse.data.collate import Collator
from codereuse.data.datamodule import CodeDataModule
from codereuse.data.types import TaskData
from codereuse.methods.finetune import FineTuneModule
from codereuse.methods.prefix_cache import PrefixCache, distinct_sequences, plan_for_fit
from codereuse.methods.state_store import GB

TINY = {"name": "tiny", "architecture": "encoder", "source": "tiny", "pooling": "mean",
        "tiny": {"arch": "bert", "hidden": 32, "layers": 6, "heads": 2}}
PAIR = {"name": "clone", "family": "pair", "num_labels": 2}
TOP2 = {"mode": "top", "layers": 2}
FUNCTIONS = [f"def f{i}(x):\n    return x * {i} + len(str(x))" for i in range(12)]
FIELDS = ("code1", "code2")


@pytest.fixture()
def modules() -> tuple[FineTuneModule, FineTuneModule]:
    """An uncached pair module and a cached one with the same weights, in eval mode."""
    torch.manual_seed(0)
    plain = FineTuneModule(TINY, PAIR, TOP2)
    cached = FineTuneModule(TINY, PAIR, {**TOP2, "cache": True})
    cached.load_state_dict(plain.state_dict())
    return plain.eval(), cached.eval()


def datamodule(tokenizer) -> CodeDataModule:
    """30 pairs of 12 functions (each function in five pairs), 6 of them again in valid."""
    records = [{"code1": FUNCTIONS[i % 12], "code2": FUNCTIONS[(i * 5 + 1) % 12], "label": i % 2} for i in range(30)]
    task = TaskData("clone", "pair", {"train": records, "valid": records[:6], "test": records[6:12]}, ["0", "1"])
    data = CodeDataModule(task, tokenizer, "encoder", max_length=64, batch_size=8)
    data.setup()
    return data


def batches(sequences: dict, pad_id: int, size: int = 5):
    items = list(sequences.items())
    for start in range(0, len(items), size):
        batch = Collator(pad_id)([{"input_ids": ids, "input_key": key} for key, ids in items[start:start + size]])
        yield batch["input_ids"], batch["input_mask"], batch["input_key"]


def test_distinct_sequences_holds_each_function_once_in_first_seen_order(modules):
    data = datamodule(modules[1].tokenizer)
    sequences = distinct_sequences(data.encoded, FIELDS)
    first = data.encoded["train"][0]
    assert len(sequences) == len(FUNCTIONS)
    assert next(iter(sequences.items())) == (first["code1_key"], first["code1_ids"])
    # rows without a sequence key are stored per (split, field, index)
    bare = {"train": [{"code1_ids": [1, 2]}, {"code1_ids": [1, 2]}]}
    assert list(distinct_sequences(bare, ("code1",))) == [("train", "code1", 0), ("train", "code1", 1)]


def test_fill_computes_each_state_once_and_the_epoch_after_it_only_replays(modules, monkeypatch):
    plain, cached = modules
    cache = cached.prefix_cache
    computed = []
    compute = PrefixCache._compute
    monkeypatch.setattr(PrefixCache, "_compute", lambda self, ids, mask: computed.append(len(ids)) or compute(self, ids, mask))
    data = datamodule(cached.tokenizer)
    sequences = distinct_sequences(data.encoded, FIELDS)
    pad = cached.tokenizer.pad_token_id
    assert cache.fill(batches(sequences, pad)) == len(FUNCTIONS) == len(cache.states) == sum(computed)
    assert cache.fill(batches(sequences, pad)) == 0 and sum(computed) == len(FUNCTIONS)  # all stored already
    with torch.no_grad():
        for batch in data.train_dataloader():
            assert torch.allclose(cached.model(batch).logits, plain.model(batch).logits, atol=1e-6)
    assert sum(computed) == len(FUNCTIONS)  # training replayed every state


def test_fill_shares_one_pass_among_rows_of_one_key(modules):
    cache = modules[1].prefix_cache
    ids = torch.tensor([[5, 6, 7], [5, 6, 7], [5, 8, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 1], [1, 1, 0]])
    assert cache.fill([(ids, mask, ["a", "a", "b"])]) == 2
    assert "a" in cache.states and "c" not in cache.states and cache.states.get("b").shape == (2, 32)


def test_estimate_gives_the_numbers_the_plan_prints(modules, capsys, tmp_path):
    budget_module = FineTuneModule(TINY, PAIR, {**TOP2, "cache": True, "cache_memory_gb": 100 * 64 * 32 * 4 / GB})
    cache = budget_module.prefix_cache
    estimate = cache.estimate(250, 64)
    assert estimate == pytest.approx({"sequences": 250, "in_memory": 100, "memory_gb": 100 * 64 * 32 * 4 / GB,
                                      "disk_gb": 150 * 64 * 32 * 2 / GB, "total_gb": 250 * 64 * 32 * 4 / GB})
    assert cache.plan(250, 64, str(tmp_path))
    printed = capsys.readouterr().out
    assert f"~{estimate['total_gb']:.3g} GB of states for 250 sequences (100 in memory" in printed
    data = datamodule(modules[1].tokenizer)
    assert plan_for_fit(modules[1].prefix_cache, SimpleNamespace(datamodule=data, default_root_dir=None), FIELDS)
    assert f"states for {len(FUNCTIONS)} sequences" in capsys.readouterr().out


def test_states_beyond_the_memory_budget_count_as_disk_bytes(tmp_path):
    module = FineTuneModule(TINY, PAIR, {**TOP2, "cache": True, "cache_memory_gb": 0, "cache_dir": str(tmp_path)})
    cache = module.prefix_cache
    ids, mask = torch.tensor([[5, 6, 7], [5, 8, 9]]), torch.ones(2, 3, dtype=torch.long)
    module.eval()
    assert cache.fill([(ids, mask, ["a", "b"])]) == 2
    assert cache.states.memory_bytes == 0 and "a" in cache.states
    header = 20  # magic (4), dtype code (1 + 3 padding), tokens, hidden size, CRC32 (4 each)
    assert cache.states.disk_bytes == 2 * (header + 3 * 32 * 2)  # float16 files

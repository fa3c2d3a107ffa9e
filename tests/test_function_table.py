"""Pair tasks encode each unique function once: one tokenisation, one frozen-prefix state and one
graph per distinct text, shared by every row (pair, side, split) that holds it, with the outputs of
the per-side path."""
from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
import torch

import codereuse.graphs
from codereuse.data.collate import Collator, encode_records
from codereuse.data.datamodule import CodeDataModule
from codereuse.data.functions import FunctionTable, sequence_key
from codereuse.data.types import TaskData
from codereuse.methods.finetune import FineTuneModule
from codereuse.methods.prefix_cache import PrefixCache, plan_for_fit
from codereuse.methods.transducer.data import derangement
from codereuse.methods.transducer.module import TransducerModule

TINY = {"name": "tiny", "architecture": "encoder", "source": "tiny", "pooling": "mean",
        "tiny": {"arch": "bert", "hidden": 32, "layers": 6, "heads": 2}}
PAIR = {"name": "clone", "family": "pair", "num_labels": 2}
TOP2 = {"mode": "top", "layers": 2}
FUNCTIONS = [f"def f{i}(x):\n    return x * {i} + len(str(x))" for i in range(51)]
SHARED = FUNCTIONS[0]  # in all 50 pairs, on either side


def pair_records() -> list[dict]:
    """50 pairs of 51 functions: SHARED with each other function, first on even rows, second on odd."""
    pairs = [(SHARED, other) if i % 2 == 0 else (other, SHARED) for i, other in enumerate(FUNCTIONS[1:])]
    return [{"code1": a, "code2": b, "label": i % 2} for i, (a, b) in enumerate(pairs)]


class CountingTokenizer:
    """A tokenizer that counts every text it is asked to tokenise."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer, self.texts = tokenizer, Counter()

    def __call__(self, texts, *args, **kwargs):
        self.texts.update(texts)
        return self.tokenizer(texts, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.tokenizer, name)


def shared_sides(rows: list[dict], records: list[dict], column: str) -> list:
    """``column`` (``ids``, ``key`` ...) of SHARED's side of every row."""
    return [row[f"code{1 if record['code1'] == SHARED else 2}_{column}"] for row, record in zip(rows, records)]


@pytest.fixture()
def modules() -> tuple[FineTuneModule, FineTuneModule]:
    """An uncached pair module and a cached one with the same weights, in eval mode."""
    torch.manual_seed(0)
    plain = FineTuneModule(TINY, PAIR, TOP2)
    cached = FineTuneModule(TINY, PAIR, {**TOP2, "cache": True})
    cached.load_state_dict(plain.state_dict())
    return plain.eval(), cached.eval()


def datamodule(tokenizer) -> CodeDataModule:
    records = pair_records()
    task = TaskData("clone", "pair", {"train": records, "valid": records[:10], "test": records[10:20]}, ["0", "1"])
    data = CodeDataModule(task, tokenizer, "encoder", max_length=64, batch_size=8)
    data.setup()
    return data


def test_the_table_keeps_distinct_texts_in_first_seen_order():
    table = FunctionTable(["b", "a", "b", "c", "a"])
    assert table.texts == ["b", "a", "c"] and len(table) == 3
    assert table.ids(["a", "c", "b", "a"]) == [1, 2, 0, 1] and table.add("d") == 3 and table.add("a") == 1
    assert sequence_key([1, 2, 3]) == sequence_key([1, 2, 3]) != sequence_key([1, 2, 4])


def test_a_function_in_50_pairs_is_tokenised_once_and_its_rows_share_one_id_list(modules):
    tokenizer = CountingTokenizer(modules[0].tokenizer)
    records = pair_records()
    rows = encode_records(records, tokenizer, "pair", "encoder", 64, 16, offsets=True)
    assert tokenizer.texts == Counter(FUNCTIONS)  # each function once, whichever side it is on
    for column in ("ids", "key", "offsets"):
        first, *rest = shared_sides(rows, records, column)
        assert all(side is first for side in rest), column
    assert len({row[f"{side}_key"] for row in rows for side in ("code1", "code2")}) == len(FUNCTIONS)
    assert rows[0]["code1_ids"] == modules[0].tokenizer(SHARED, truncation=True, max_length=64)["input_ids"]


def test_two_texts_truncated_to_the_same_ids_share_a_key(modules):
    tokenizer = modules[0].tokenizer
    records = [{"code1": SHARED + "\n# one", "code2": SHARED + "\n# two", "label": 0}]
    (row,) = encode_records(records, tokenizer, "pair", "encoder", 4, 16)
    assert row["code1_ids"] == row["code2_ids"] and row["code1_key"] == row["code2_key"]
    batch = Collator(tokenizer.pad_token_id)([row, row])
    assert batch["code1_key"] == [row["code1_key"]] * 2  # passed through, not padded


def test_a_function_in_50_pairs_gets_one_prefix_state_in_every_split(modules, monkeypatch, capsys):
    _, cached = modules
    computed = []
    compute = PrefixCache._compute
    monkeypatch.setattr(PrefixCache, "_compute", lambda self, ids, mask: computed.extend(ids.tolist()) or compute(self, ids, mask))
    data = datamodule(cached.tokenizer)
    with torch.no_grad():
        for _ in range(2):  # the second epoch replays
            for batch in data.train_dataloader():
                cached.model(batch)
        for batch in data.val_dataloader():  # the same functions in another split: nothing new
            cached.model(batch)
    shared = data.encoded["train"][0]["code1_ids"]
    assert len(computed) == len(FUNCTIONS) == len(cached.prefix_cache.states)
    assert sum(ids[: len(shared)] == shared for ids in computed) == 1
    plan_for_fit(cached.prefix_cache, SimpleNamespace(datamodule=data, default_root_dir=None), ("code1", "code2"))
    assert f"states for {len(FUNCTIONS)} sequences" in capsys.readouterr().out  # the plan counts distinct ones


def test_pair_logits_with_the_table_equal_the_per_side_path(modules):
    plain, cached = modules
    per_side = FineTuneModule(TINY, PAIR, {**TOP2, "cache": True})
    per_side.load_state_dict(plain.state_dict())
    per_side.eval()
    data = datamodule(plain.tokenizer)
    with torch.no_grad():
        for _ in range(2):  # fill, then replay
            for batch in data.train_dataloader():
                without_keys = {k: v for k, v in batch.items() if not k.endswith("_key")}  # keyed (split, field, index)
                expected = plain.model(batch).logits
                assert torch.allclose(cached.model(batch).logits, expected, atol=1e-6)
                assert torch.allclose(per_side.model(without_keys).logits, expected, atol=1e-6)
    assert len(cached.prefix_cache.states) == len(FUNCTIONS)
    assert len(per_side.prefix_cache.states) == 2 * len(data.encoded["train"])


@pytest.fixture()
def transducer_rows(monkeypatch):
    """``(module, counted graph inputs, counting tokenizer)``: a pair transducer whose graph rows count
    the texts their graphs are built and tokenised from."""
    torch.manual_seed(0)
    module = TransducerModule(backbone=TINY, task=PAIR, transducer={"hidden": 16, "heads": 2})
    built = Counter()
    build = codereuse.graphs.cached_graphs
    monkeypatch.setattr(codereuse.graphs, "cached_graphs", lambda codes, *a, **k: built.update(codes) or build(codes, *a, **k))
    module.row_fields.tokenizer = CountingTokenizer(module.tokenizer)
    module.row_fields.progress = False
    return module, built, module.row_fields.tokenizer


def test_graphs_are_built_and_tokenised_once_per_unique_function(transducer_rows):
    module, built, tokenizer = transducer_rows
    records = pair_records()
    rows = encode_records(records, module.tokenizer, "pair", "encoder", 64, 16, offsets=True)
    module.row_fields("train", records, rows)
    assert built == Counter(FUNCTIONS) and tokenizer.texts == Counter(FUNCTIONS)
    first, *rest = shared_sides(rows, records, "graph")
    assert all(graph is first for graph in rest)
    with torch.no_grad():
        assert module.model(Collator(module.tokenizer.pad_token_id)(rows[:8])).logits.shape == (8, 2)


def test_shuffled_graphs_stay_a_derangement_of_rows(transducer_rows):
    module, _, _ = transducer_rows
    records = pair_records()
    rows = encode_records(records, module.tokenizer, "pair", "encoder", 64, 16, offsets=True)
    module.row_fields("valid", records, rows)
    shuffled = [dict(row) for row in rows]
    module.row_fields.shuffle = True
    module.row_fields("valid", records, shuffled)
    for field in ("code1", "code2"):
        order = derangement(len(rows), f"valid/{field}")
        assert all(torch.equal(shuffled[row][f"{field}_graph"].token_ids, rows[source][f"{field}_graph"].token_ids)
                   for row, source in enumerate(order))

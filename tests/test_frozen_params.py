"""Frozen means frozen: after several optimiser steps through Lightning, every parameter that does
not train is bit-identical, and the ones that train have moved - for every freeze policy under
fine-tuning and for every other strategy in ``conf/strategy`` (picked up from the files)."""
from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from codereuse.training.run import build_datamodule, build_module
from codereuse.data.registry import load_task
from conftest import CONF, compose_train, fast_overrides

POLICIES = sorted(f.stem for f in (CONF / "freeze").glob("*.yaml"))
OTHER_STRATEGIES = sorted(f.stem for f in (CONF / "strategy").glob("*.yaml") if f.stem != "finetune")
CASES = ([("finetune", policy, False) for policy in POLICIES] + [("finetune", "top2", True), ("finetune", "bottom3", True)]
         # other strategies ignore the freeze group (or freeze the backbone themselves): the default top2
         + [(strategy, "top2", False) for strategy in OTHER_STRATEGIES])
STEPS = 4


def parameters(module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.model.named_parameters()}


@pytest.mark.parametrize(("strategy", "policy", "cache"), CASES)
def test_frozen_parameters_stay_bit_identical_and_trainable_ones_move(strategy, policy, cache, tmp_path, code_tree):
    overrides = fast_overrides("task=clone", f"strategy={strategy}", f"freeze={policy}", f"freeze.cache={str(cache).lower()}",
                               f"trainer.max_steps={STEPS}", "trainer.limit_val_batches=0", "callbacks=none",
                               "strategy.optim.lr=1e-2")
    cfg = compose_train(overrides, tmp_path, source_dir=code_tree)
    data = load_task(cfg.task.name, source_dir=cfg.data.source_dir, cache_dir=cfg.data.cache_dir,
                     options=dict(cfg.task.options), progress=False)
    module = build_module(cfg, data)
    datamodule = build_datamodule(cfg, data, module.tokenizer, module)
    trainable = {name for name, p in module.model.named_parameters() if p.requires_grad}
    before = parameters(module)
    # parameters the loss can reach: a gradient (even zero) after one backward pass; BERT's pooler is not used
    datamodule.setup("fit")
    module.model(next(iter(datamodule.train_dataloader()))).loss.backward()
    reached = {name for name, p in module.model.named_parameters() if p.grad is not None}
    module.model.zero_grad(set_to_none=True)

    trainer = instantiate(cfg.trainer, logger=False, callbacks=[], enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == STEPS
    after = parameters(module)

    frozen = set(before) - trainable
    assert reached <= trainable, f"gradient reached frozen parameters: {sorted(reached - trainable)[:3]}"
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert not changed & frozen, f"frozen parameters changed: {sorted(changed & frozen)[:3]}"
    assert reached and changed == reached, f"trainable but unchanged: {sorted(reached - changed)[:3]}"
    if strategy != "finetune" or policy != "none":
        assert frozen, "nothing was frozen"
    if policy == "all" and strategy == "finetune":
        assert all(name.startswith("head.") for name in changed)

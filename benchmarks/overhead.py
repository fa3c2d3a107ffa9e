"""Framework overhead: FineTuneModule under Lightning vs the same model in a hand-written loop.

    python benchmarks/overhead.py [--steps 40] [overrides ...]   (default: MiniLM, clone, freeze=top2)

Both loops train the same TaskModel on the same batches with the same optimiser for the same steps;
the first ``--warmup`` steps of each are not timed. Rounds alternate (plain, framework, plain, ...)
so machine noise hits both; the best round of each counts. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time

import pytorch_lightning as pl
import torch

from common import build, compose_train


class StepTimer(pl.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.stop = warmup, None, None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()

    def on_train_end(self, trainer, module):
        self.stop = time.perf_counter()


def framework_round(cfg, steps: int, warmup: int) -> float:
    _, module, datamodule = build(cfg)
    timer = StepTimer(warmup)
    trainer = pl.Trainer(max_steps=steps, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
                         gradient_clip_val=cfg.trainer.gradient_clip_val, accelerator="cpu", devices=1)
    trainer.fit(module, datamodule=datamodule)
    return (steps - warmup) / (timer.stop - timer.start)


def plain_round(cfg, steps: int, warmup: int) -> float:
    _, module, datamodule = build(cfg)
    optimizer = torch.optim.AdamW([p for p in module.model.parameters() if p.requires_grad],
                                  lr=module.optim.lr, weight_decay=module.optim.weight_decay)
    module.train()  # keeps frozen layers in eval mode, as under Lightning
    batches = itertools.cycle(datamodule.train_dataloader())
    for step in range(steps):
        if step == warmup:
            start = time.perf_counter()
        loss = module.model(next(batches)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.model.parameters(), cfg.trainer.gradient_clip_val)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return (steps - warmup) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("overrides", nargs="*", default=[])
    args = parser.parse_args()
    cfg = compose_train(["task.max_length=128", "task.batch_size=16", *args.overrides])
    plain, framework = [], []
    for _ in range(args.rounds):
        plain.append(plain_round(cfg, args.steps, args.warmup))
        framework.append(framework_round(cfg, args.steps, args.warmup))
    best_plain, best_framework = max(plain), max(framework)
    print(json.dumps({"model": cfg.model.name, "task": cfg.task.name, "freeze": cfg.freeze.name, "steps": args.steps,
                      "framework_steps_per_s": round(best_framework, 4), "plain_steps_per_s": round(best_plain, 4),
                      "overhead": round(best_plain / best_framework - 1, 4)}))


if __name__ == "__main__":
    main()

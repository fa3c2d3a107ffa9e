"""A run killed after an epoch and resumed from ``last.ckpt`` ends exactly like an uninterrupted one."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from codereuse.training.run import run
from codereuse.methods.base import dropout_seed
from conftest import compose_train, fast_overrides

RUN = ("task=clone", "freeze=top2", "trainer.max_steps=-1", "trainer.max_epochs=2",
       "trainer.limit_train_batches=4", "task.max_train_examples=64")


class Killed(RuntimeError):
    pass


class KillAtEpoch(pl.Callback):
    """Dies at the start of ``epoch``, after the previous epoch's checkpoint was written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise Killed(f"killed at epoch {self.epoch}")


def test_resume_matches_uninterrupted_run(tmp_path, code_tree):
    straight = run(compose_train(fast_overrides(*RUN), tmp_path / "straight", code_tree))

    killed = tmp_path / "killed"
    with pytest.raises(Killed):
        run(compose_train(fast_overrides(*RUN, "+callbacks.kill._target_=test_resume.KillAtEpoch", "+callbacks.kill.epoch=1"),
                          killed, code_tree))
    checkpoint = killed / "checkpoints" / "last.ckpt"
    resumed = run(compose_train(fast_overrides(*RUN, f"ckpt_path={checkpoint}"), tmp_path / "resumed", code_tree))

    for key in ("test/acc", "test/f1", "test/loss", "val/loss"):
        assert resumed[key] == pytest.approx(straight[key], abs=1e-6), key


class RecordSeeds(pl.Callback):
    """The torch seed every micro-batch's forward and backward ran under."""
    seeds: list[tuple[int, int]] = []

    def on_after_backward(self, trainer, pl_module):
        RecordSeeds.seeds.append((trainer.global_step, torch.initial_seed()))


def test_dropout_seed_mixes_step_micro_batch_and_rank():
    seeds = {dropout_seed(s, step, micro, rank) for s in (0, 1) for step in range(3) for micro in range(3) for rank in range(2)}
    assert len(seeds) == 2 * 3 * 3 * 2  # no two (seed, step, micro-batch, rank) share masks
    assert dropout_seed(42, 5, 1, 0) == dropout_seed(42, 5, 1, 0) and dropout_seed(-1, 0, 0, 0) >= 0


def test_accumulated_micro_batches_draw_their_own_dropout_masks(tmp_path, code_tree):
    RecordSeeds.seeds = []
    run(compose_train(fast_overrides("task=defect", "test=false", "trainer.max_steps=2", "trainer.accumulate_grad_batches=2",
                                     "trainer.limit_val_batches=0", "+callbacks.seeds._target_=test_resume.RecordSeeds"),
                      tmp_path, code_tree))
    steps = [step for step, _ in RecordSeeds.seeds]
    assert steps == [0, 0, 1, 1]  # two micro-batches per optimiser step
    assert len({seed for _, seed in RecordSeeds.seeds}) == 4

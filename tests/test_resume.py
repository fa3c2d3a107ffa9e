"""A run killed after an epoch and resumed from ``last.ckpt`` ends exactly like an uninterrupted one."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl

from codereuse.cli.train import run
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

"""A run interrupted after an epoch and resumed from ``last.ckpt`` ends exactly like an uninterrupted one."""
from __future__ import annotations

import shutil

import pytest

from codereuse.cli.train import run
from conftest import compose_train, fast_overrides

RUN = ("task=clone", "freeze=top2", "trainer.max_steps=-1", "trainer.limit_train_batches=4", "task.max_train_examples=64")


def test_resume_matches_uninterrupted_run(tmp_path, code_tree):
    straight = run(compose_train(fast_overrides(*RUN, "trainer.max_epochs=2"), tmp_path / "straight", code_tree))

    first = tmp_path / "first"
    run(compose_train(fast_overrides(*RUN, "trainer.max_epochs=1", "test=false"), first, code_tree))
    checkpoint = tmp_path / "interrupted.ckpt"  # what a killed job leaves behind
    shutil.copy(first / "checkpoints" / "last.ckpt", checkpoint)
    resumed = run(compose_train(fast_overrides(*RUN, "trainer.max_epochs=2", f"ckpt_path={checkpoint}"), tmp_path / "resumed", code_tree))

    for key in ("test/acc", "test/f1", "test/loss", "val/loss"):
        assert resumed[key] == pytest.approx(straight[key], abs=1e-6), key

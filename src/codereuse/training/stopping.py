"""SIGTERM (``timeout``, SLURM pre-emption, container stop): finish the step, write last.ckpt, stop.

Lightning's own handler only sets ``trainer.received_sigterm`` and, on one process, acts on it at
the end of the epoch, which can be many minutes away. This callback acts after the current batch.
"""
from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException

from codereuse.errors import Interrupted


class StopOnSigterm(pl.Callback):
    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.received_sigterm:
            self.stop(trainer, "training")

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        if trainer.received_sigterm and trainer.training is False and trainer.state.fn == "fit":
            self.stop(trainer, "validation")

    def on_exception(self, trainer: pl.Trainer, pl_module, exception: BaseException) -> None:
        # the signal can land after this callback's batch-end check and before Lightning's own, which
        # then raises SIGTERMException itself; the trainer is still between steps, so save here too
        if isinstance(exception, SIGTERMException) and trainer.state.fn == "fit":
            save_last(trainer)

    @staticmethod
    def stop(trainer: pl.Trainer, stage: str) -> None:
        path = save_last(trainer)
        if path is None:
            raise Interrupted(f"SIGTERM during {stage} at step {trainer.global_step}; no checkpoint written "
                              "(checkpointing is off)")
        raise Interrupted(resume_message(stage, trainer.global_step, path))


def save_last(trainer: pl.Trainer) -> Path | None:
    """Write ``last.ckpt`` where the run keeps it; None when the run has no checkpointing."""
    path = last_checkpoint_path(trainer)
    if path is not None:
        trainer.save_checkpoint(path)
    return path


def resume_message(stage: str, step: int, path: Path) -> str:
    return f"SIGTERM during {stage}: wrote {path} at step {step}; resume with: python train.py ckpt_path={path}"


def last_checkpoint_path(trainer: pl.Trainer) -> Path | None:
    """Where the run keeps ``last.ckpt`` (the callback named ``last``, else beside any checkpoint)."""
    callbacks = [c for c in trainer.checkpoint_callbacks if getattr(c, "dirpath", None)]
    if not callbacks:
        return None
    chosen = next((c for c in callbacks if c.filename == "last"), callbacks[0])
    return Path(chosen.dirpath) / "last.ckpt"

"""A callback that records (elapsed fit seconds, validation score) at every validation check.

Benchmarks read the file it writes to measure *time to accuracy*: how long an arm needs to reach
a given validation score. Elapsed time counts from the start of ``trainer.fit`` and includes the
validation checks themselves, as a user waiting for the score would.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytorch_lightning as pl


class ValidationHistory(pl.Callback):
    def __init__(self, path: str, monitor: str) -> None:
        self.path, self.monitor = Path(path), monitor
        self.started: float | None = None
        self.history: list[dict] = []

    def on_fit_start(self, trainer, module) -> None:
        self.started, self.history = time.perf_counter(), []

    def on_validation_end(self, trainer, module) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        self.history.append({"seconds": time.perf_counter() - self.started, "epoch": trainer.current_epoch,
                             "step": trainer.global_step, "value": float(trainer.callback_metrics[self.monitor])})

    def on_fit_end(self, trainer, module) -> None:
        if trainer.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"monitor": self.monitor, "history": self.history}, indent=1) + "\n")

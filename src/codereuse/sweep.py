"""Sweeps: the value Hydra sweepers optimise and the pruning callback of Optuna searches.

    python train.py -m model=tiny task=defect,clone strategy=finetune,lora freeze=none,top2
    python -m codereuse.cli.summary multirun/<date>/<time>   # summary.csv + summary.md (+ summary.png), one JSON line

``conf/hparams_search/`` holds the Optuna searches.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import pytorch_lightning as pl

from codereuse.errors import ConfigError


def objective(metrics: Mapping, name: str | None) -> float | None:
    """``metrics[name]`` as a float for an optimising sweeper (Optuna), or None when nothing is optimised.

    ``name`` is ``cfg.optimized_metric`` (set by ``hparams_search=...``). A missing metric is a
    config error naming the metrics the run produced; NaN (a diverged run) is returned as is, so
    Optuna records the trial as failed instead of the whole search dying.
    """
    if not name:
        return None
    if name not in metrics:
        raise ConfigError("optimized_metric", name, sorted(k for k in metrics if "/" in k),
                          "the run did not produce this metric")
    value = metrics[name]
    return math.nan if value is None else float(value.item() if hasattr(value, "item") else value)


class OptunaPruning(pl.Callback):
    """Report ``monitor`` after every validation to the Optuna trial this job runs, and stop the job
    (``optuna.TrialPruned``, recorded as PRUNED by the sweeper) when the study's pruner says so.

    The trial is found from the job's Hydra config (``hydra.sweeper.storage/study_name/trial``, set by
    the in-project Optuna sweeper), so it works in any launcher's process; outside an Optuna sweep, or
    with ``hydra.sweeper.pruner=null``, it does nothing. (optuna-integration's Lightning callback
    subclasses ``lightning.pytorch.Callback``, which the ``pytorch_lightning`` Trainer does not accept.)
    """

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.trial = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.trial = _current_trial()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.trial is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise ConfigError("callbacks.optuna_pruning.monitor", self.monitor,
                              sorted(trainer.callback_metrics), "the run does not log this metric")
        self.trial.report(float(value), step=trainer.current_epoch)
        if not _last_validation(trainer) and self.trial.should_prune():  # stopping after the last saves nothing
            import optuna

            raise optuna.TrialPruned(f"pruned after epoch {trainer.current_epoch} ({self.monitor}={float(value):.4f})")


def _last_validation(trainer: pl.Trainer) -> bool:
    out_of_steps = trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps
    out_of_epochs = trainer.max_epochs not in (None, -1) and trainer.current_epoch >= trainer.max_epochs - 1
    return out_of_steps or out_of_epochs


def _current_trial():
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    sweeper = HydraConfig.get().sweeper
    if sweeper.get("trial") is None or not sweeper.get("pruner") or not sweeper.get("storage"):
        return None
    import optuna
    from hydra.utils import instantiate

    study = optuna.load_study(study_name=sweeper.study_name, storage=sweeper.storage, pruner=instantiate(sweeper.pruner))
    storage = study._storage  # noqa: SLF001 - the study's own (cached) storage, so reports stay consistent
    trial_id = storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name), sweeper.trial)
    return optuna.trial.Trial(study, trial_id)


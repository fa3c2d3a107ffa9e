"""Hydra plugin: ``hydra/sweeper=optuna`` on current Optuna (4.x/5.x) and SQLAlchemy 2.

The released ``hydra-optuna-sweeper`` (1.3.0) needs optuna<3; this small in-project sweeper keeps the
same config surface (``storage``, ``study_name``, ``direction``, ``n_trials``, ``n_jobs``, ``sampler``,
``params`` in Hydra's sweep grammar) and adds ``pruner``: the job's
:class:`codereuse.sweep.OptunaPruning` callback reports the validation metric per epoch to the
trial and stops the job when the pruner says so.
"""
from hydra.core.config_store import ConfigStore

SWEEPER_CONFIG = {
    "_target_": "hydra_plugins.codereuse_optuna_sweeper.optuna_sweeper.OptunaSweeper",
    "sampler": {"_target_": "optuna.samplers.TPESampler", "seed": None},
    # e.g. {_target_: optuna.pruners.MedianPruner, n_startup_trials: 3}; null never prunes
    "pruner": None,
    "direction": "minimize",
    "storage": None,
    "study_name": None,
    "n_trials": 20,
    "n_jobs": 1,
    # share of failed trials per batch tolerated before the sweep stops with the jobs' error
    "max_failure_rate": 0.0,
    "params": None,
    # set per job by the sweeper (the Optuna trial number the job runs); null outside a sweep
    "trial": None,
}

ConfigStore.instance().store(group="hydra/sweeper", name="optuna", node=SWEEPER_CONFIG, provider="codereuse")

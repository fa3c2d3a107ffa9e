"""Which functions a checkpoint never trained on: the split seed and source of the run that wrote it.

Drift (and probes of a fine-tuned backbone) are measured on the clone task's valid + test
functions. Those are held out from the checkpoint only if the clone task is split as the run's own
task was: same source tree, same split seed (every embedded task of a harvest and ``data.seed``
shares one file-to-split map). Both are read from the train config the checkpoint records
(``checkpoint["codereuse"]["config"]``), or from the run's ``.hydra/config.yaml``.
"""
from __future__ import annotations

import dataclasses
import logging

from codereuse.analysis.config import ProbeConfig
from codereuse.errors import ConfigError

log = logging.getLogger(__name__)
RUN_KEYS = {"data_seed": "data.seed", "source_dir": "data.source_dir"}  # probe key -> train.py key


def run_data(train_config: dict) -> dict:
    """``{"data_seed", "source_dir"}`` of a train config. Runs from before ``data.seed`` existed
    split with the training ``seed``."""
    data = train_config.get("data") or {}
    return {"data_seed": data["seed"] if "seed" in data else train_config.get("seed", 0),
            "source_dir": data.get("source_dir")}


def heldout_config(config: ProbeConfig, given: set[str], train_config: dict | None, ckpt: str) -> ProbeConfig:
    """``config`` with the checkpoint run's split seed and source. ``given`` are the keys the user
    set: one that contradicts the run is an error, since the "held-out" functions would not be."""
    if train_config is None:
        if "data_seed" in given:
            return config
        raise ConfigError("ckpt", ckpt, hint="it records no train config (neither checkpoint['codereuse'] nor a "
                          ".hydra/config.yaml beside checkpoints/), so which functions it trained on is unknown: "
                          "pass data_seed= and source_dir= as that run set data.seed and data.source_dir")
    run = run_data(train_config)
    for key in sorted(given & set(run)):
        if getattr(config, key) != run[key]:
            raise ConfigError(key, getattr(config, key), hint=f"the checkpoint's run used {RUN_KEYS[key]}={run[key]!r}; "
                              f"another value would mix its training functions into the held-out ones")
    if "seed" not in (train_config.get("data") or {}):
        log.warning("the checkpoint predates data.seed: its split used seed=%s and an older file assignment, so "
                    "some held-out functions may be from its training files", run["data_seed"])
    return dataclasses.replace(config, **run)


def checkpoint_train_config(ckpt: str) -> dict | None:
    """The resolved train config a train.py checkpoint records in its run record, if any."""
    from codereuse.checkpoints import load_checkpoint  # torch: only once a checkpoint is read
    from codereuse.training.resume import run_record

    return run_record(load_checkpoint(ckpt, "ckpt", builds_model=False), ckpt).get("config")

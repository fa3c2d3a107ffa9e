"""Shared set-up of the benchmarks: compose the train config, build task data, module and loaders."""
from __future__ import annotations

import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from codereuse.cli.train import build_datamodule, build_module
from codereuse.data.registry import load_task

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = cfg.hydra.runtime.output_dir = tempfile.mkdtemp(prefix="codereuse-bench-")
    HydraConfig.instance().set_config(cfg)
    return cfg


def build(cfg):
    """(task data, LightningModule, DataModule) exactly as ``train.py`` builds them."""
    data = load_task(cfg.task.name, source_dir=cfg.data.source_dir, data_dir=cfg.data.dir,
                     cache_dir=cfg.data.cache_dir, seed=cfg.data.seed, options=dict(cfg.task.options))
    module = build_module(cfg, data)
    datamodule = build_datamodule(cfg, data, module.tokenizer)
    datamodule.setup("fit")
    return data, module, datamodule

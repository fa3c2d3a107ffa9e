"""Shared set-up of the benchmarks: the ``--tasks`` option, compose the train config, build task
data, module and loaders."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from codereuse.training.run import build_datamodule, build_module
from codereuse.data.registry import TASK_FAMILIES, load_task

CONF = Path(__file__).resolve().parents[1] / "conf"
# the yardstick tasks: retrieval (stdlib search) and the semantic clone benchmark (pairs)
DEFAULT_TASKS = "search,clone_leetcode"


def task_names(text: str) -> list[str]:
    """``--tasks``: comma-separated task config names (``conf/task/<name>.yaml``), checked up front so
    a typo fails before the first task's runs rather than after them."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if not (CONF / "task" / f"{name}.yaml").is_file()]
    if not names or unknown:
        known = sorted(path.stem for path in (CONF / "task").glob("*.yaml"))
        raise argparse.ArgumentTypeError(f"unknown task config {', '.join(unknown) or repr(text)}; known: {', '.join(known)}")
    return names


def add_tasks_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", type=task_names, default=DEFAULT_TASKS,
                        help=f"comma-separated task configs, each run in turn (default {DEFAULT_TASKS})")


def task_family(task: str) -> str:
    """The family (classification, pair, retrieval, seq2seq) of task config ``task``."""
    return TASK_FAMILIES[yaml.safe_load((CONF / "task" / f"{task}.yaml").read_text())["name"]]


def unsupported(task: str, families, why: str) -> str | None:
    """Why a benchmark cannot run ``task`` (None when its family is one of ``families``)."""
    family = task_family(task)
    return None if family in families else f"{task} is a {family} task: {why}"


def compose_train(overrides: list[str], config_name: str = "train"):
    """``conf/<config_name>.yaml`` composed as its script would, outputs in a fresh temporary directory."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
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

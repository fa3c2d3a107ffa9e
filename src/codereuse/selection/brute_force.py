"""Ground truth: fine-tune every candidate at one fixed budget through ``train.py``'s own
``run(cfg)``, and cache each result (keyed by the candidate's weights, task, split seed, budget).

The train config is composed from ``conf/train.yaml`` with the budget's overrides, exactly as
``python train.py <overrides> model.path=<candidate>`` would run it.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from codereuse.data.cache import default_cache_dir


def results_dir() -> Path:
    return default_cache_dir() / "selection" / "ground_truth"


def budget_key(task: str, data_seed: int, seed: int, overrides: list[str], options: dict) -> str:
    return hashlib.sha256(json.dumps([task, data_seed, seed, sorted(overrides), options], sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def fine_tune(name: str, spec: dict, weights: str, *, task: str, data_seed: int, seed: int,
              overrides: list[str], options: dict, output_dir: Path, conf_dir: str | None = None) -> dict:
    """The cached result of fine-tuning one candidate, or a fresh run of ``train.py``'s run()."""
    budget = budget_key(task, data_seed, seed, overrides, options)
    path = results_dir() / f"{weights}-{budget}.json"
    if path.is_file():
        return {**json.loads(path.read_text()), "cached": True}
    cfg = _train_config(spec, task, data_seed, seed, overrides, options, output_dir / name, conf_dir)
    from codereuse.cli.train import run  # heavy: only when something must train

    with _hydra_config(cfg):
        metrics = run(cfg)
    monitor = cfg.task.monitor.split("/", 1)[1]
    result = {"candidate": name, "weights": weights, "task": task, "budget": budget, "overrides": overrides,
              "metric": f"test/{monitor}", "value": float(metrics[f"test/{monitor}"]),
              "seconds": float(metrics["wall_seconds"]), "trainable_params": metrics.get("trainable_params")}
    _write_atomic(path, result)
    return {**result, "cached": False}


def other_task_results(weights: dict[str, str], task: str) -> dict[str, dict[str, float]]:
    """Cached fine-tuning results of these candidates (name -> weights) on tasks other than ``task``."""
    by_weights = {w: n for n, w in weights.items()}
    found: dict[str, dict[str, float]] = {}
    for path in sorted(results_dir().glob("*.json")) if results_dir().is_dir() else []:
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if entry.get("task") != task and entry.get("weights") in by_weights:
            found.setdefault(f"{entry['task']}@{entry['budget']}", {})[by_weights[entry["weights"]]] = entry["value"]
    return found


def _train_config(spec: dict, task: str, data_seed: int, seed: int, overrides: list[str], options: dict,
                  output_dir: Path, conf_dir: str | None) -> DictConfig:
    every = [f"task={task}", f"seed={seed}", f"++data.seed={data_seed}", *overrides]
    if GlobalHydra.instance().is_initialized():
        cfg = compose("train", overrides=every, return_hydra_config=True)
    else:
        with initialize_config_dir(config_dir=str(conf_dir or _primary_config_dir()), version_base="1.3"):
            cfg = compose("train", overrides=every, return_hydra_config=True)
    with open_dict(cfg):
        cfg.model = OmegaConf.create(spec)
        cfg.task.options = OmegaConf.merge(cfg.task.options or {}, options)
        cfg.paths.output_dir = str(output_dir)
        cfg.hydra.runtime.output_dir = str(output_dir)
    return cfg


def _primary_config_dir() -> str:
    """The directory select.yaml came from (train.yaml sits beside it)."""
    for source in HydraConfig.get().runtime.config_sources:
        if source.provider == "main" and source.schema == "file":
            return source.path
    raise RuntimeError("cannot find the primary config directory to compose train.yaml from")


@contextmanager
def _hydra_config(cfg: DictConfig):
    """Let run(cfg) see the train job's Hydra config (choices, output dir), then restore ours."""
    instance = HydraConfig.instance()
    previous = instance.cfg
    instance.set_config(cfg)
    try:
        yield
    finally:
        instance.cfg = previous


def _write_atomic(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "w") as file:
        json.dump(value, file, indent=2, sort_keys=True)
    os.replace(tmp, path)

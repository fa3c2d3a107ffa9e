"""Brute-force runs: fine-tune candidates at one budget (one rate, one seed) through ``train.py``'s own
``run(cfg)``, and cache each result with its test and validation metrics (keyed by the candidate's
weights, task, split seed, training seed and budget). ``ground_truth`` combines them over a grid.

The train config is composed from ``conf/train.yaml`` with the budget's overrides, exactly as
``python train.py <overrides> model.path=<candidate>`` would run it: in this process, one candidate
after another (``fine_tune``), or as one ``train.py -m`` multirun over the candidates' model
configs (``fine_tune_multirun``), so ``hydra/launcher=parallel|slurm`` spreads them out.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from codereuse.data.cache import default_cache_dir
from codereuse.errors import ConfigError


PREFIX = "candidate-"  # the multirun's model config names


def results_dir() -> Path:
    return default_cache_dir() / "selection" / "ground_truth"


def budget_key(task: str, data_seed: int, seed: int, overrides: list[str], options: dict) -> str:
    return hashlib.sha256(json.dumps([task, data_seed, seed, sorted(overrides), options], sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def fine_tune(name: str, spec: dict, weights: str, *, task: str, data_seed: int, seed: int,
              overrides: list[str], options: dict, output_dir: Path, metric: str, conf_dir: str | None = None) -> dict:
    """The cached result of fine-tuning one candidate, or a fresh run of ``train.py``'s run()."""
    budget = {"task": task, "data_seed": data_seed, "seed": seed, "overrides": overrides, "options": options}
    cached = cached_result(weights, metric, **budget)
    if cached is not None:
        return cached
    cfg = _train_config(spec, task, data_seed, seed, overrides, options, output_dir / name, conf_dir)
    from codereuse.training.run import run  # heavy: only when something must train

    with _hydra_config(cfg):
        metrics = run(cfg)
    return _record(name, weights, metrics, metric, **budget)


def cached_result(weights: str, metric: str, *, task: str, data_seed: int, seed: int, overrides: list[str],
                  options: dict) -> dict | None:
    """The cached run's test ``metric`` (e.g. ``acc``); None when not run (or recorded without it)."""
    path = results_dir() / f"{weights}-{budget_key(task, data_seed, seed, overrides, options)}.json"
    if not path.is_file():
        return None
    entry = json.loads(path.read_text())
    value = entry.get("test_metrics", {}).get(f"test/{metric}")
    if value is None:  # a record written before every test metric was kept
        value = entry["value"] if entry.get("metric") == f"test/{metric}" else None
    return None if value is None else {**entry, "metric": f"test/{metric}", "value": value, "cached": True}


def _record(name: str, weights: str, metrics: dict, metric: str, *, task: str, data_seed: int, seed: int,
            overrides: list[str], options: dict) -> dict:
    """One fine-tuning run's result (from its ``metrics``), written to the results cache with every
    test metric and the names of its references (``test/floor_name``, ...), so the ground truth can be
    judged by another metric without re-training."""
    budget = budget_key(task, data_seed, seed, overrides, options)
    tests = {k: float(v) for k, v in metrics.items() if k.startswith("test/") and isinstance(v, (int, float))}
    names = {k: v for k, v in metrics.items() if k.startswith("test/") and k.endswith("_name") and isinstance(v, str)}
    validation = {k: float(v) for k, v in metrics.items() if k.startswith("val/") and isinstance(v, (int, float))}
    if f"test/{metric}" not in tests:
        raise ConfigError("brute_force.metric", metric, sorted(k.split("/", 1)[1] for k in tests))
    result = {"candidate": name, "weights": weights, "task": task, "budget": budget, "overrides": overrides,
              "metric": f"test/{metric}", "value": tests[f"test/{metric}"], "test_metrics": {**tests, **names}, "val_metrics": validation,
              "seconds": float(metrics["wall_seconds"]), "trainable_params": metrics.get("trainable_params")}
    _write_atomic(results_dir() / f"{weights}-{budget}.json", result)
    return {**result, "cached": False}


def fine_tune_multirun(jobs: dict[str, tuple[dict, str]], *, task: str, data_seed: int, seed: int,
                       overrides: list[str], options: dict, output_dir: Path, metric: str,
                       launcher: str | None = None, conf_dir: str | None = None) -> tuple[dict[str, dict], list[str]]:
    """Fine-tune the candidates ``jobs`` (name -> (model spec, weights key)) as one ``train.py -m``
    sweep over ``model=<name>``; each finished job's result is cached like ``fine_tune``'s. Returns
    the results and one line per job that did not finish (its log is in its job directory)."""
    models = output_dir / "conf" / "model"
    models.mkdir(parents=True, exist_ok=True)
    for name, (spec, _) in jobs.items():  # prefixed: never shadows a model config of the same name
        OmegaConf.save(OmegaConf.create(spec), models / f"{PREFIX}{name}.yaml")
    sweep = output_dir / "multirun"
    command = [sys.executable, "-c", "from codereuse.cli.entry import train; train()", "-m",
               f"hydra.searchpath=[file://{models.parent}]", f"model={','.join(PREFIX + name for name in jobs)}", f"task={task}",
               f"seed={seed}", f"++data.seed={data_seed}", f"hydra.sweep.dir={sweep}",
               "hydra.sweep.subdir=${hydra.runtime.choices.model}", *overrides,
               *[f"++task.options.{key}={json.dumps(value)}" for key, value in options.items()],
               *([f"hydra/launcher={launcher}"] if launcher else [])]
    env = {**os.environ, "CODEREUSE_CONF": str(conf_dir or _primary_config_dir())}
    with (output_dir / "multirun.log").open("w") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    budget = {"task": task, "data_seed": data_seed, "seed": seed, "overrides": overrides, "options": options}
    results, failed = {}, []
    for name, (_, weights) in jobs.items():
        try:
            metrics = json.loads((sweep / f"{PREFIX}{name}" / "metrics.json").read_text())
        except (OSError, ValueError):
            failed.append(f"{name}: its fine-tuning job did not finish; see {output_dir / 'multirun.log'}")
            continue
        results[name] = _record(name, weights, metrics, metric, **budget)
    return results, failed


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

"""The teacher run to distil and the task it was trained on: a given run, or the default teacher
that train.py fine-tunes once per configuration (in a directory named by that configuration's
identity) and later compress runs reuse."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, open_dict

from codereuse.compression.settings import plain
from codereuse.compression.teacher import Teacher, load_teacher
from codereuse.data.cache import cache_key
from codereuse.data.registry import load_task
from codereuse.errors import ConfigError

COMPRESS_KEYS = ("teacher", "teacher_dir", "budget_mb", "search", "distill", "latency_repeats", "export_onnx")
TEACHER_IDENTITY = ("model", "task", "strategy", "freeze", "trainer", "hardware", "data", "seed")


def resolve_teacher(cfg: DictConfig) -> tuple[Teacher, str]:
    """The teacher and a note saying where it came from."""
    if cfg.teacher:
        return load_teacher(cfg.teacher), f"{cfg.teacher} (given)"
    train_cfg = teacher_train_config(cfg)
    run_dir = Path(train_cfg.paths.output_dir)
    if (run_dir / "metrics.json").is_file() and (run_dir / "checkpoints" / "best.ckpt").is_file():
        return load_teacher(run_dir), f"{run_dir} (reused: fine-tuned earlier with the same configuration)"
    print(f"teacher: none given; fine-tuning {cfg.model.name} on {cfg.task.name} into {run_dir} first")
    from codereuse.training.run import run as train

    train(train_cfg)
    return load_teacher(run_dir), f"{run_dir} (fine-tuned now: {cfg.model.name} on {cfg.task.name}, freeze={cfg.freeze.name})"


def teacher_train_config(cfg: DictConfig) -> DictConfig:
    """The train.py config the default teacher is fine-tuned with, in a directory named by its identity."""
    train_cfg = cfg.copy()
    with open_dict(train_cfg):
        for key in COMPRESS_KEYS:
            train_cfg.pop(key, None)
        identity = {k: plain(train_cfg[k]) for k in TEACHER_IDENTITY if k in train_cfg}
        identity["trainer"].pop("default_root_dir", None)  # this run's output dir, not the teacher's identity
        train_cfg.paths.output_dir = str(Path(cfg.teacher_dir) / f"{cfg.model.name}-{cfg.task.name}-{cache_key(identity)}")
        train_cfg.ckpt_path = None
        train_cfg.test = True
    return train_cfg


def load_data(cfg: DictConfig, teacher: Teacher):
    """The teacher's task with the teacher's split (its run config when recorded, else this config's)."""
    task, data_cfg, split_seed = teacher_data_config(cfg, teacher)
    if task["name"] != teacher.task["name"]:
        raise ConfigError("teacher", str(teacher.checkpoint), hint=f"trained on {teacher.task['name']}, config says {task['name']}")
    return load_task(task["name"], source_dir=data_cfg.get("source_dir"), data_dir=data_cfg.get("dir"),
                     cache_dir=cfg.data.cache_dir, seed=split_seed, options=task.get("options"))


def teacher_data_config(cfg: DictConfig, teacher: Teacher) -> tuple[dict, dict, int]:
    """The teacher run's task and data config and its split seed (else this config's)."""
    run = teacher.config or {}
    data_cfg = run.get("data") or plain(cfg.data)
    split_seed = data_cfg.get("seed", run.get("seed", cfg.seed))  # the split seed is data.seed; older runs split by seed
    return run.get("task") or plain(cfg.task), data_cfg, split_seed

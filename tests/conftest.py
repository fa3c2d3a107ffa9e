"""Shared test fixtures: offline environment, a small real-code source tree, Hydra configs."""
from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

# tiny models: thread start-up and sync cost more than the arithmetic (3x faster on 2 busy cores)
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = ROOT.parent / "shared" / "data"  # published benchmark copies shared beside the checkout
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# enough real code for every embedded task to have all three splits, small enough to build in seconds
LIBRARY_PACKAGES = ("json", "email", "http", "urllib", "logging", "xml", "importlib", "concurrent", "wsgiref", "html")
TEST_FILES = ("test_textwrap.py", "test_string.py", "test_heapq.py", "test_bisect.py", "test_shlex.py",
              "test_fnmatch.py", "test_base64.py", "test_difflib.py", "test_statistics.py", "test_fractions.py",
              "test_ipaddress.py", "test_enum.py", "test_collections.py", "test_functools.py")


@pytest.fixture(autouse=True)
def offline_environment(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("CODEREUSE_CACHE", str(tmp_path_factory.getbasetemp() / "codereuse-cache"))


@pytest.fixture(scope="session")
def code_tree(tmp_path_factory) -> Path:
    """A copy of a few standard-library packages and test files: real code, quick to harvest."""
    root = tmp_path_factory.mktemp("code-tree")
    for package in LIBRARY_PACKAGES:
        shutil.copytree(STDLIB / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "test").mkdir()
    for name in TEST_FILES:
        shutil.copy(STDLIB / "test" / name, root / "test" / name)
    return root


def shared_data(name: str) -> Path:
    """``../shared/data/<name>`` (relative to the project root). Missing, it fails the test when
    ``CI=true`` -- CI must not pass by skipping -- and skips it, with the reason, elsewhere."""
    path = SHARED_DATA / name
    if not path.is_dir():
        reason = f"shared data {path} is missing (expected ../shared/data/{name} beside the project root)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def compose_train(overrides: list[str], output_dir: Path, source_dir: Path | None = None,
                  config_name: str = "train") -> DictConfig:
    """``conf/<config_name>.yaml`` (default ``train``) composed as ``python train.py <overrides>`` would,
    outputs under ``output_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.hydra.runtime.output_dir = str(output_dir)
        if source_dir is not None:
            cfg.data.source_dir = str(source_dir)
    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} as under @hydra.main
    return cfg


FAST = ["model=tiny", "hardware=cpu", "logger=none", "trainer.max_steps=3", "trainer.max_epochs=1",
        "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "task.max_train_examples=48",
        "task.max_eval_examples=16", "task.batch_size=8", "task.max_length=64", "task.max_target_length=24"]


def fast_overrides(*extra: str) -> list[str]:
    """Tiny, few-step overrides; ``extra`` wins over the defaults (later overrides replace earlier)."""
    keys = {e.split("=", 1)[0] for e in extra}
    base = [o for o in FAST if o.split("=", 1)[0] not in keys]
    if "task=classify" in extra:  # the small test tree has ten packages, not sixteen
        base.append("task.options.num_classes=4")
    return base + list(extra)


def run_env() -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", WANDB_MODE="offline", PYTHONUNBUFFERED="1")
    return env

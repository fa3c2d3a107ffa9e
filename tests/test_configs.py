"""Every YAML file of every config group composes into a config that builds what it names."""
from __future__ import annotations

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from codereuse.methods.base import ReuseModule
from codereuse.methods.freeze import FreezePolicy
from codereuse.models import BackboneSpec
from codereuse.data.registry import TASK_FAMILIES, TASKS
from codereuse.families import family
from codereuse.methods.settings import OptimSettings
from conftest import CONF, compose_train

GROUPS = sorted(d.name for d in CONF.iterdir() if d.is_dir() and d.name not in ("local", "hydra"))
CHOICES = [(group, f.stem) for group in GROUPS for f in sorted((CONF / group).glob("*.yaml"))]
# groups of select.py's primary config; every other group composes with train.yaml
SELECT_GROUPS = ("pool", "scorer")
# groups of compress.py's primary config
COMPRESS_GROUPS = ("preset",)


def test_every_group_has_files():
    assert {"model", "task", "strategy", "freeze", "hardware", "logger", "callbacks", "trainer", "paths",
            "experiment", "debug"} <= set(GROUPS)
    assert all(list((CONF / g).glob("*.yaml")) for g in GROUPS)


@pytest.mark.parametrize(("group", "name"), CHOICES, ids=[f"{g}={n}" for g, n in CHOICES])
def test_config_composes(group, name, tmp_path):
    primary = "select" if group in SELECT_GROUPS else "compress" if group in COMPRESS_GROUPS else "train"
    cfg = compose_train([f"{group}={name}"], tmp_path, config_name=primary)
    if group == "model":
        spec = BackboneSpec.from_dict(dict(cfg.model))
        assert spec.name == name
    elif group == "freeze":
        assert FreezePolicy(**cfg.freeze).name == name
    elif group == "strategy":
        assert issubclass(get_class(cfg.strategy._target_), ReuseModule)
        OptimSettings.from_dict(OmegaConf.to_container(cfg.strategy.optim))  # complete and valid
    elif group == "task":
        if cfg.task.get("data_dir") is None:  # a preset of a published copy reads a task's files
            assert cfg.task.name == name
        assert cfg.task.name in TASKS and cfg.task.monitor in family(TASK_FAMILIES[cfg.task.name]).metric_keys("val")
    elif group == "hardware":
        assert {"accelerator", "devices", "num_nodes", "precision", "strategy"} <= set(cfg.hardware)
    elif group in ("logger", "callbacks"):
        built = [instantiate(node) for node in cfg[group].values()]
        assert len(built) == len(cfg[group])
    elif group == "trainer":
        trainer = instantiate(cfg.trainer, accelerator="cpu", devices=1, strategy="auto", precision="32-true")
        assert trainer.max_epochs == cfg.trainer.max_epochs and trainer.max_steps == cfg.trainer.max_steps
    elif group in ("experiment", "debug", "hparams_search"):
        # a global package: composes with the defaults and changes something of them
        defaults = compose_train([], tmp_path)
        changed = cfg.hydra.sweeper != defaults.hydra.sweeper if group == "hparams_search" else \
            OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]) != \
            OmegaConf.masked_copy(defaults, [k for k in defaults if k != "hydra"])
        assert changed, f"{group}={name} changes nothing"
    elif group == "preset":
        # a budget: the teacher's epochs and the distillation's epochs are set, and the presets differ
        others = [compose_train([f"preset={f.stem}"], tmp_path, config_name="compress")
                  for f in (CONF / group).glob("*.yaml") if f.stem != name]
        assert cfg.trainer.max_epochs >= 1 and cfg.distill.max_epochs >= 1
        assert all((o.trainer.max_epochs, o.distill.max_epochs, o.task.max_length) !=
                   (cfg.trainer.max_epochs, cfg.distill.max_epochs, cfg.task.max_length) for o in others)
    elif group == "pool":
        assert cfg.pool.name == name and cfg.pool.candidates
        assert all("model" in candidate for candidate in cfg.pool.candidates.values())
    elif group == "scorer":
        scorers = [node for node in cfg.scorer.values() if "_target_" in node]
        assert scorers and all(callable(get_class(node._target_)) for node in scorers)
        assert name == "all" or all(key.startswith(name) for key in cfg.scorer)
    else:
        assert cfg[group] is not None


def test_defaults_are_the_documented_demo(tmp_path):
    cfg = compose_train([], tmp_path)
    assert (cfg.model.name, cfg.task.name, cfg.freeze.name) == ("minilm", "search", "top2")
    # the demo's budget: one epoch over 2,000 training pairs, evaluated on the whole test split
    assert (cfg.trainer.max_epochs, cfg.task.max_train_examples, cfg.task.max_eval_examples) == (1, 2000, None)
    assert cfg.frozen_reference is True
    assert cfg.strategy._target_.endswith("FineTuneModule")
    assert cfg.hardware.accelerator == "cpu"


def test_clone_leetcode_preset_reads_the_shared_copy(tmp_path):
    cfg = compose_train(["task=clone_leetcode"], tmp_path)
    assert (cfg.task.name, cfg.data.dir, cfg.task.max_length) == ("clone", "../shared/data/leetcode-clones", 256)
    assert compose_train(["task=clone_leetcode", "data.dir=/elsewhere"], tmp_path).data.dir == "/elsewhere"
    assert compose_train(["task=clone"], tmp_path).data.dir is None  # the embedded build


def test_a_missing_published_copy_fails_in_one_line(tmp_path, monkeypatch):
    from codereuse.training.preflight import check_run_config
    from codereuse.errors import ConfigError

    monkeypatch.chdir(tmp_path)  # ../shared/data/leetcode-clones does not exist from here
    with pytest.raises(ConfigError, match=r"data\.dir='\.\./shared/data/leetcode-clones'.*no such directory"):
        check_run_config(compose_train(["task=clone_leetcode"], tmp_path))

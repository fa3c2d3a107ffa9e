"""Every YAML file of every config group composes into a config that builds what it names."""
from __future__ import annotations

import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from codereuse.methods.base import ReuseModule
from codereuse.methods.freeze import FreezePolicy
from codereuse.models import BackboneSpec
from conftest import CONF, compose_train

GROUPS = sorted(d.name for d in CONF.iterdir() if d.is_dir() and d.name not in ("local", "hydra"))
CHOICES = [(group, f.stem) for group in GROUPS for f in sorted((CONF / group).glob("*.yaml"))]
# groups of select.py's primary config; every other group composes with train.yaml
SELECT_GROUPS = ("pool", "scorer")


def test_every_group_has_files():
    assert {"model", "task", "strategy", "freeze", "hardware", "logger", "callbacks", "trainer", "paths",
            "experiment", "debug"} <= set(GROUPS)
    assert all(list((CONF / g).glob("*.yaml")) for g in GROUPS)


@pytest.mark.parametrize(("group", "name"), CHOICES, ids=[f"{g}={n}" for g, n in CHOICES])
def test_config_composes(group, name, tmp_path):
    primary = "select" if group in SELECT_GROUPS else "train"
    cfg = compose_train([f"{group}={name}"], tmp_path, config_name=primary)
    if group == "model":
        spec = BackboneSpec.from_dict(dict(cfg.model))
        assert spec.name == name
    elif group == "freeze":
        assert FreezePolicy(**cfg.freeze).name == name
    elif group == "strategy":
        assert issubclass(get_class(cfg.strategy._target_), ReuseModule)
    elif group == "task":
        assert cfg.task.name == name and cfg.task.monitor.startswith("val/")
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
    assert (cfg.model.name, cfg.task.name, cfg.freeze.name) == ("minilm", "clone", "top2")
    assert cfg.strategy._target_.endswith("FineTuneModule")
    assert cfg.hardware.accelerator == "cpu"

"""``ckpt_path=<run>/checkpoints/last.ckpt``: resume the interrupted run as it was configured.

A checkpoint written through ``train.py`` records its command-line overrides and resolved config
(``checkpoint["codereuse"]``, see ``ReuseModule.on_save_checkpoint``); older runs are read from the
run's ``.hydra/`` directory beside ``checkpoints/``. The resumed config is the interrupted run's
overrides followed by this command line's, so what the user types now wins key by key. Whatever
the config, a checkpoint that does not fit the module built from it fails in one line.
"""
from __future__ import annotations

from pathlib import Path

import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from codereuse.errors import ConfigError, first_line
from codereuse.methods.base import module_class_name

RECORD_KEY = "codereuse"  # the run record in every checkpoint: {"module_class", "config", "overrides"}
# keys that describe where and how this process runs (its output, its callbacks, e.g. one that
# killed it), never restored from the interrupted run
NOT_RESTORED = ("ckpt_path", "hydra", "paths", "callbacks", "+callbacks")


def read_checkpoint(path: str) -> dict:
    """The checkpoint as a dict of plain data (memory-mapped: the weights are not read yet)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # truncated file, not a torch checkpoint, pickled objects ...
        reason = first_line(error)
        raise ConfigError("ckpt_path", path, hint=f"not a readable checkpoint: {reason}") from None


def run_record(checkpoint: dict, path: str) -> dict:
    """``{"module_class", "config", "overrides"}`` of the run that wrote ``path`` (keys may be None)."""
    record = dict(checkpoint.get(RECORD_KEY) or {})
    hydra_dir = Path(path).resolve().parent.parent / ".hydra"
    if record.get("config") is None and (hydra_dir / "config.yaml").is_file():
        record["config"] = OmegaConf.to_container(OmegaConf.load(hydra_dir / "config.yaml"))
    if record.get("overrides") is None and (hydra_dir / "overrides.yaml").is_file():
        record["overrides"] = yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) or []
    return record


def restored_config(cfg: DictConfig, record: dict) -> DictConfig:
    """``cfg`` recomposed from the interrupted run's overrides plus this command line's."""
    saved = record.get("overrides")
    if not saved or not HydraConfig.initialized():
        return cfg
    current = list(HydraConfig.get().overrides.task)
    mine = {_key(o) for o in current}
    # a group chosen anew (model=...) drops the old choice's settings (model.path=...) with it
    inherited = [o for o in saved if _key(o) not in mine and not _key(o).startswith(NOT_RESTORED)
                 and not any(_key(o).startswith(f"{key}.") for key in mine)]
    if not inherited:
        return cfg  # nothing the interrupted run set that this command line does not set again
    composed = _compose([*inherited, *current])
    with open_dict(composed):
        composed.paths = cfg.paths  # this process's output directory, not the interrupted run's
    return composed


def _key(override: str) -> str:
    parsed = OverridesParser.create().parse_override(override)
    return parsed.key_or_group + (f"@{parsed.package}" if parsed.package else "")


def _compose(overrides: list[str]) -> DictConfig:
    hydra = HydraConfig.get()
    if GlobalHydra.instance().is_initialized():  # inside @hydra.main
        return compose(hydra.job.config_name, overrides=overrides)
    conf = next(s["path"] for s in hydra.runtime.config_sources if s["provider"] == "main")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        return compose(hydra.job.config_name or "train", overrides=overrides)


def check_fits(checkpoint: dict, record: dict, path: str, cfg: DictConfig, module) -> None:
    """One line naming both sides when ``path`` was written by another model/strategy/freeze/module."""
    written, built = record.get("module_class"), module_class_name(module)
    saved = record.get("config") or {}
    # a strategy that ignores the freeze group (peft, transducer) fits whatever freeze either side names
    with_freeze = not getattr(module, "freeze_ignored", False)
    mine = _identity(OmegaConf.to_container(OmegaConf.masked_copy(cfg, ["model", "strategy", "freeze"]), resolve=True), with_freeze)
    theirs = _identity(saved, with_freeze)
    if saved and mine != theirs or written and written != built:
        raise ConfigError("ckpt_path", path, hint=f"the checkpoint was written by {_describe(theirs, written)}; "
                          f"this run builds {_describe(mine, built)}")
    _check_weights_fit(checkpoint.get("state_dict", {}), module.state_dict(), path)


def _identity(config: dict, with_freeze: bool) -> dict:
    model, strategy = config.get("model") or {}, config.get("strategy") or {}
    identity = {"model": model.get("path") or model.get("name"), "strategy": strategy.get("_target_", "?").rsplit(".", 1)[-1]}
    if with_freeze:
        identity["freeze"] = (config.get("freeze") or {}).get("name")
    return identity


def _describe(identity: dict, module_name: str | None) -> str:
    text = ", ".join(f"{k}={v}" for k, v in identity.items() if v is not None)
    return text + (f" ({module_name})" if module_name else "")


def _check_weights_fit(saved: dict, built: dict, path: str) -> None:
    missing = sorted(set(built) - set(saved))
    unexpected = sorted(set(saved) - set(built))
    if missing or unexpected:
        raise ConfigError("ckpt_path", path, hint=f"the checkpoint's weights do not fit this model: "
                          f"{len(missing)} missing (e.g. {missing[:1]}), {len(unexpected)} unexpected (e.g. {unexpected[:1]})")
    for name, tensor in built.items():
        if tuple(saved[name].shape) != tuple(tensor.shape):
            raise ConfigError("ckpt_path", path, hint=f"{name} has shape {tuple(saved[name].shape)} in the checkpoint "
                              f"but {tuple(tensor.shape)} in this model")

"""``ckpt_path=<run>/checkpoints/last.ckpt``: resume the interrupted run as it was configured.

A checkpoint written through ``train.py`` records its command-line overrides and resolved config
(``checkpoint["codereuse"]``, written by :class:`RunRecord`); older runs are read from the
run's ``.hydra/`` directory beside ``checkpoints/``. The resumed config is the interrupted run's
overrides followed by this command line's, so what the user types now wins key by key. Whatever
the config, a checkpoint that does not fit the module built from it fails in one line.

A checkpoint may come from anyone, so it is read with weights only (:mod:`codereuse.checkpoints`)
and only overrides a run of this project records are replayed (:func:`_replayable`).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytorch_lightning as pl
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from codereuse.errors import ConfigError, first_line
from codereuse.methods.base import module_class_name

RECORD_KEY = "codereuse"  # the run record in every checkpoint: {"module_class", "config", "overrides"}
# keys that describe where and how this process runs (its output, its callbacks, e.g. one that
# killed it), never restored from the interrupted run
NOT_RESTORED = ("ckpt_path", "hydra", "paths", "callbacks", "+callbacks")
# Hydra's instantiate keys: a replayed override that names one would call code of the file's choosing
INSTANTIATE_KEYS = ("_target_", "_partial_", "_args_", "_recursive_", "_convert_")
# settings that run code from a model's files: typed on the command line, never replayed from a file
OPT_IN_KEYS = ("model.trust_remote_code", "model.allow_pickle")
# a config's name in its group (model=tiny, experiment=arm/x): no `..` or absolute path to a YAML elsewhere
CONFIG_NAME = re.compile(r"\w[\w.-]*(/\w[\w.-]*)*")


class RunRecord(pl.Callback):
    """Writes the run's resolved config and command-line overrides into every checkpoint."""

    def __init__(self, config: dict, overrides: list[str]) -> None:
        self.config, self.overrides = config, overrides

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint.setdefault(RECORD_KEY, {}).update(config=self.config, overrides=self.overrides)


def run_record(checkpoint: dict, path: str) -> dict:
    """``{"module_class", "config", "overrides"}`` of the run that wrote ``path`` (keys may be None)."""
    record = dict(checkpoint.get(RECORD_KEY) or {})
    hydra_dir = Path(path).resolve().parent.parent / ".hydra"
    if record.get("config") is None and (hydra_dir / "config.yaml").is_file():
        record["config"] = OmegaConf.to_container(OmegaConf.load(hydra_dir / "config.yaml"))
    if record.get("overrides") is None and (hydra_dir / "overrides.yaml").is_file():
        record["overrides"] = yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) or []
    return record


def restored_config(cfg: DictConfig, record: dict, path: str) -> DictConfig:
    """``cfg`` recomposed from the interrupted run's overrides plus this command line's."""
    saved = record.get("overrides")
    if not saved or not HydraConfig.initialized():
        return cfg
    if not isinstance(saved, list) or not all(isinstance(o, str) for o in saved):
        raise ConfigError("ckpt_path", path, hint="its recorded overrides are not a list of key=value strings")
    current = list(HydraConfig.get().overrides.task)
    mine = {_key(_parse(o, path)) for o in current}
    groups = set(HydraConfig.get().runtime.choices)
    inherited = []
    for override in (_parse(o, path) for o in saved):
        key = _key(override)
        # a group chosen anew (model=...) drops the old choice's settings (model.path=...) with it
        if key not in mine and not key.startswith(NOT_RESTORED) and not any(key.startswith(f"{k}.") for k in mine):
            inherited.append(_replayable(override, groups, path))
    if not inherited:
        return cfg  # nothing the interrupted run set that this command line does not set again
    try:
        composed = _compose([*inherited, *current])
    except (HydraException, OmegaConfBaseException) as error:  # a key or config name this project does not have
        raise ConfigError("ckpt_path", path, hint=f"its recorded overrides do not compose: {first_line(error)}") from None
    with open_dict(composed):
        composed.paths = cfg.paths  # this process's output directory, not the interrupted run's
    return composed


def _parse(override: str, path: str) -> Override:
    try:
        return OverridesParser.create().parse_override(override)
    except HydraException as error:
        raise ConfigError("ckpt_path", path, hint=f"its recorded override {override!r} does not parse: {first_line(error)}") from None


def _key(override: Override) -> str:
    return override.key_or_group + (f"@{override.package}" if override.package else "")


def _replayable(override: Override, groups: set[str], path: str) -> str:
    """The recorded ``override`` as it is replayed, or one ConfigError naming its key. Replayed: a key
    the config has or a group's config by name, with no instantiate key, package, interpolation (a
    resolver can build nodes) or opt-in. ``+`` additions are refused; ``++`` (the project's brute-force
    runs record ``++data.seed=``) is replayed as a plain override, so a key the config lacks fails."""
    key, text = override.key_or_group, override.input_line.strip()

    def refused(why: str) -> ConfigError:
        return ConfigError("ckpt_path", path, hint=f"its recorded override {key} is not replayed: {why}")

    named = next((name for name in INSTANTIATE_KEYS if name in text), None)
    if named:
        raise refused(f"{named} would name code to call")
    if override.package:
        raise refused(f"it places a config at @{override.package}")
    if "${" in text:
        raise refused("it holds an interpolation")
    if override.is_add():
        raise refused("a checkpoint cannot add keys (+)")
    if key in OPT_IN_KEYS:
        raise refused("it runs code from the model's files; pass it on this command line if you trust them")
    value = override.value()
    if (key in groups or "/" in key) and value is not None and not (isinstance(value, str) and CONFIG_NAME.fullmatch(value)):
        raise refused(f"{value!r} is not the name of a config in {key}/")
    return text[2:] if override.is_force_add() else text


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

"""Checks of a train config that would otherwise fail late (after the data build) or as a traceback.

Each raises one ``ConfigError`` / ``BackboneError`` line naming the key or the file.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from codereuse.data.cache import default_cache_dir
from codereuse.errors import BackboneError, ConfigError, first_line
from codereuse.methods.state_store import CacheBudget
from codereuse.models.backbone import check_pickle_free


def check_run_config(cfg: DictConfig) -> None:
    _check_int("seed", cfg.seed)
    _check_int("task.batch_size", cfg.task.batch_size, minimum=1)
    if cfg.task.get("eval_batch_size") is not None:
        _check_int("task.eval_batch_size", cfg.task.eval_batch_size, minimum=1)
    if cfg.task.get("num_beams") is not None:
        _check_int("task.num_beams", cfg.task.num_beams, minimum=1)
    _check_length(cfg.trainer)
    check_cache_dir(cfg.data.get("cache_dir"))
    CacheBudget.of(cfg.freeze)  # freeze.cache_memory_gb / cache_disk_dtype
    if cfg.model.get("path"):
        model_dir = Path(cfg.model.path).expanduser()
        if not (model_dir / "config.json").is_file():
            raise BackboneError(f"model.path: {model_dir} is not a Hugging Face model directory (no config.json)")
        check_weights(model_dir)
        check_pickle_free(model_dir, cfg.model.get("allow_pickle", False))
    check_data_dir(cfg.data.get("dir"))


def _check_int(key: str, value: object, minimum: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(key, value, hint="an integer is needed")
    if minimum is not None and value < minimum:
        raise ConfigError(key, value, hint=f"must be at least {minimum}")


def _check_length(trainer: DictConfig) -> None:
    max_steps, max_epochs = trainer.get("max_steps", -1), trainer.get("max_epochs")
    if max_steps is not None and max_steps != -1:
        _check_int("trainer.max_steps", max_steps, minimum=1)
        return
    if max_epochs is None or max_epochs == -1:
        # Lightning reads -1 as "no limit", but the linear warmup/decay schedule needs a total length
        raise ConfigError("trainer.max_epochs", max_epochs, hint="training without an end is not supported: "
                          "the linear LR schedule needs a length; set trainer.max_epochs>=1 or trainer.max_steps>=1")
    _check_int("trainer.max_epochs", max_epochs, minimum=1)


def check_cache_dir(cache_dir: str | None) -> None:
    """The data cache must be (or be creatable as) a directory; tell the user before the harvest."""
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    key = "data.cache_dir (CODEREUSE_CACHE)"
    for path in (root, *root.parents):
        if path.exists():
            if not path.is_dir():
                what = "" if path == root else f" ({path} is a file)"
                raise ConfigError(key, str(root), hint=f"not a directory{what}; point it at a directory")
            return


def check_data_dir(data_dir: str | None) -> None:
    """A published-data directory (``data.dir``, or a task preset's ``task.data_dir``) must exist."""
    if data_dir and not Path(data_dir).expanduser().is_dir():
        raise ConfigError("data.dir", data_dir, hint=f"no such directory (from {Path.cwd()}); point data.dir= at "
                          "your copy of the published files")


def check_weights(model_dir: Path) -> None:
    """Open every safetensors file's header and size: a truncated or garbled copy is named here,
    before the data loads, instead of failing deep inside ``from_pretrained``."""
    from safetensors import safe_open

    for path in sorted(model_dir.glob("*.safetensors")):
        try:
            # the header lists every tensor's byte range; safetensors checks they cover the file exactly
            with safe_open(str(path), framework="pt"):
                pass
        except Exception as error:  # safetensors raises its own SafetensorError and OSError/ValueError
            reason = first_line(error)
            raise BackboneError(f"model.path: {path} is not a readable safetensors file ({reason}); "
                                "copy or download it again") from None

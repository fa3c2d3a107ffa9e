"""Read a torch file a user hands in (a checkpoint, a teacher, a state dict) without running its code.

``torch.load(weights_only=True)`` rebuilds tensors, dtypes and plain containers and refuses every
other pickled object, so a file from elsewhere cannot run code as it is read. The files this project
writes (checkpoints of every strategy, with early stopping or bf16, the int8 student's state dict)
hold nothing else, so no extra type is allowed.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import torch

from codereuse.errors import ConfigError, first_line

CONVERT = "re-save only its tensors and plain data (torch.save(model.state_dict())) or as safetensors"
# backbone settings that run code from a model's files: only the command line turns them on, never a file
OPT_INS = ("trust_remote_code", "allow_pickle")


def load_checkpoint(path: str | Path, key: str, builds_model: bool = True) -> dict:
    """The dict saved at ``path``, read on the CPU with weights only (memory-mapped when it is the zip
    archive torch.save writes: tensors are read when used). Anything else is one ConfigError naming
    ``key`` and the file. ``builds_model``: the caller builds a model from the file's hyperparameters
    (a teacher, a drift checkpoint, a selection candidate), so a backbone there that turns on an
    opt-in of :data:`OPT_INS` is refused too."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as error:  # noqa: BLE001 - truncated, not a torch file, pickled objects: all one line
        raise ConfigError(key, str(path), hint=_unreadable(error)) from None
    if not isinstance(checkpoint, dict):
        raise ConfigError(key, str(path), hint=f"not a checkpoint: it holds a {type(checkpoint).__name__}, not a dict")
    hparams = checkpoint.get("hyper_parameters")
    backbone = hparams.get("backbone") if builds_model and isinstance(hparams, dict) else None
    asked = [name for name in OPT_INS if isinstance(backbone, dict) and backbone.get(name)]
    if asked:
        raise ConfigError(key, str(path), hint=f"its backbone turns on {asked[0]}, which runs code from the model's "
                          "files; a checkpoint cannot turn that on")
    return checkpoint


def _unreadable(error: Exception) -> str:
    text = str(error)
    refused = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if refused:  # torch's refusal of a pickled object: its first line only says how to load it unsafely
        return f"it holds pickled Python objects ({refused[1]}), which are never loaded; {CONVERT}"
    detail = re.search(r"WeightsUnpickler error: ([^\n]+)", text)
    return f"not a readable checkpoint: {detail[1] if detail else first_line(error)}"

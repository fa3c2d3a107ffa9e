"""Content hashes of models: what caches of model outputs are keyed on, so that equal weights share
entries wherever the files live (a checkpoint file's bytes also hold paths and loop state)."""
from __future__ import annotations

import hashlib
import json

import torch
from torch import nn


def weights_fingerprint(model: nn.Module, tokenizer=None, *extra: object) -> str:
    """sha256 over every tensor of ``model.state_dict()`` (name and bytes), the tokenizer's
    vocabulary and any JSON-serialisable ``extra`` (e.g. the task a head was trained for)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    if tokenizer is not None:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    if extra:
        digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:24]


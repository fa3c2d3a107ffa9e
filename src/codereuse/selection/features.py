"""Frozen features of each candidate on the probe sample, per layer, cached on disk.

Extraction reuses :func:`codereuse.analysis.features.layer_features` (one forward pass gives every
requested layer). Each (weights, layer, pooling, max length, probe data) entry is one ``.npy`` file
written atomically, with a sidecar holding the extraction time, so a cached run still reports what
selection costs cold. Pair tasks get the clone head's features ``[u, v, |u - v|, u * v]``.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from codereuse.analysis.features import depth, layer_features
from codereuse.data.cache import default_cache_dir
from codereuse.methods.heads import pair_features
from codereuse.models import Backbone, load_backbone
from codereuse.selection.probe import ProbeSample

FORMAT = 1


@dataclass
class CandidateFeatures:
    layers: dict[int, np.ndarray]  # layer -> (examples, dims) features of the probe examples
    depth: int
    params: int
    seconds: float  # cold extraction time (from the cache's record when cached)
    weights: str = ""  # weights_fingerprint: the key of everything cached about this model


def weights_fingerprint(backbone: Backbone) -> str:
    """A hash of every weight and the tokenizer's vocabulary: equal models share cache entries."""
    digest = hashlib.sha256()
    for name, tensor in sorted(backbone.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    digest.update(json.dumps(sorted(backbone.tokenizer.get_vocab().items())).encode())
    return digest.hexdigest()[:24]


def candidate_features(spec: dict, probe: ProbeSample, *, layers: str | list[int] = "last",
                       pooling: str | None = None, max_length: int = 128, batch_size: int = 32,
                       cache_dir: str | Path | None = None, progress: bool = True) -> CandidateFeatures:
    """Features of the model ``spec`` at ``layers`` ("last", "all" or hidden-state indices)."""
    started = time.perf_counter()
    backbone = load_backbone(spec)
    total_depth = depth(backbone)
    wanted = _layers(layers, total_depth)
    how = pooling or backbone.spec.pooling
    length = min(max_length, backbone.spec.max_length)
    root = Path(cache_dir) if cache_dir else default_cache_dir() / "selection" / "features"
    weights = weights_fingerprint(backbone)
    keys = {layer: _key(weights, layer, how, length, probe.fingerprint) for layer in wanted}
    pooled = {layer: _load(root, key) for layer, key in keys.items()}
    missing = [layer for layer, hit in pooled.items() if hit is None]
    seconds = sum(hit[1] for hit in pooled.values() if hit is not None)
    if missing:
        extracted = layer_features(backbone, probe.texts, layers=missing, max_length=length, batch_size=batch_size,
                                   pooling=how, desc=f"features {backbone.spec.name}", progress=progress)
        spent = (time.perf_counter() - started) / len(missing)
        for row, layer in enumerate(missing):
            _save(root, keys[layer], extracted.pooled[row], spent)
            pooled[layer] = (extracted.pooled[row], spent)
        seconds += spent * len(missing)
    params = sum(p.numel() for p in backbone.model.parameters())
    return CandidateFeatures({layer: example_features(pooled[layer][0], probe) for layer in wanted},
                             total_depth, params, seconds, weights)


def example_features(text_features: np.ndarray, probe: ProbeSample) -> np.ndarray:
    """Per-example features: the text's own, or the pair head's [u, v, |u - v|, u * v]."""
    if probe.family == "pair":
        first = torch.from_numpy(text_features[probe.index[:, 0]])
        second = torch.from_numpy(text_features[probe.index[:, 1]])
        return pair_features(first, second).numpy()
    return text_features[probe.index[:, 0]]


def _layers(layers: str | list[int], total: int) -> list[int]:
    if layers == "last":
        return [total]
    if layers == "all":
        return list(range(total + 1))
    from codereuse.analysis.features import check_layers

    return check_layers(list(layers), total)


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([FORMAT, *parts]).encode()).hexdigest()[:32]


def _load(root: Path, key: str) -> tuple[np.ndarray, float] | None:
    array, meta = root / f"{key}.npy", root / f"{key}.json"
    if not meta.is_file():
        return None
    try:
        return np.load(array, allow_pickle=False), float(json.loads(meta.read_text())["seconds"])
    except (OSError, ValueError, KeyError):  # a damaged entry is recomputed
        return None


def _save(root: Path, key: str, values: np.ndarray, seconds: float) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, write in ((f"{key}.npy", lambda f: np.save(f, values, allow_pickle=False)),
                        (f"{key}.json", lambda f: f.write(json.dumps({"seconds": seconds}).encode()))):
        handle, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-")
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(tmp, root / name)  # array first, meta last: a reader sees a complete entry or none

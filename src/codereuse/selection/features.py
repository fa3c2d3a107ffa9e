"""Frozen features of each candidate on the probe sample, per layer, cached on disk.

Extraction reuses :func:`codereuse.models.features.layer_features` (one forward pass gives every
requested layer). Each (weights, layer, pooling, max length, probe data) entry is one ``.npy`` file
written atomically, with a sidecar holding the extraction time, so a cached run still reports what
selection costs cold. Pair tasks get the clone head's features ``[u, v, |u - v|, u * v]``.
A truncated candidate whose parent is in the pool reads the parent's features at its depth from the
parent's one forward pass: for architectures with no final norm after the layer stack, hidden state
``i`` *is* the output of the model cut to ``i`` layers (tested), so the cut model's pass is redundant.
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

from codereuse.models.features import PRECISIONS, depth, extraction_device, layer_features
from codereuse.data.cache import default_cache_dir
from codereuse.errors import CodereuseError, ConfigError, first_line
from codereuse.families import family
from codereuse.methods.heads import pair_features
from codereuse.models import Backbone, load_backbone
from codereuse.models.fingerprint import weights_fingerprint as model_fingerprint
from codereuse.selection.probe import ProbeSample

FORMAT = 1
# model_type values whose hidden state i equals the output of the same model cut to i layers
EXACT_CUT = frozenset({"bert", "roberta", "mpnet", "electra", "xlm-roberta", "camembert"})


@dataclass
class CandidateFeatures:
    layers: dict[int, np.ndarray]  # layer -> (examples, dims) features of the probe examples
    depth: int
    params: int
    seconds: float  # cold extraction time (from the cache's record when cached)
    weights: str = ""  # weights_fingerprint: the key of everything cached about this model


def weights_fingerprint(backbone: Backbone) -> str:
    """A hash of every weight and the tokenizer's vocabulary: equal models share cache entries."""
    return model_fingerprint(backbone.model, backbone.tokenizer)


def candidate_features(spec: dict, probe: ProbeSample, *, layers: str | list[int] = "last",
                       pooling: str | None = None, max_length: int = 128, batch_size: int = 32,
                       cache_dir: str | Path | None = None, progress: bool = True,
                       also: list[int] = (), precision: str = "float32") -> CandidateFeatures:
    """Features of the model ``spec`` at ``layers`` ("last", "all" or hidden-state indices), plus
    the hidden-state indices ``also`` from the same forward pass (those at or below its depth)."""
    started = time.perf_counter()
    backbone = load_backbone(spec)
    total_depth = depth(backbone)
    wanted = sorted(set(_layers(layers, total_depth)) | {i for i in also if 0 <= i <= total_depth})
    how = pooling or backbone.spec.pooling
    length = min(max_length, backbone.spec.max_length)
    root = Path(cache_dir) if cache_dir else default_cache_dir() / "selection" / "features"
    weights = weights_fingerprint(backbone)
    # fp32 keys keep their old form, so existing caches stay valid
    keys = {layer: _key(weights, layer, how, length, probe.fingerprint, *([precision] if precision != "float32" else []))
            for layer in wanted}
    pooled = {layer: _load(root, key) for layer, key in keys.items()}
    missing = [layer for layer, hit in pooled.items() if hit is None]
    seconds = sum(hit[1] for hit in pooled.values() if hit is not None)
    if missing:
        backbone.model.to(extraction_device())  # after the fingerprint, which reads every weight on the CPU
        extracted = layer_features(backbone, probe.texts, layers=missing, max_length=length, batch_size=batch_size,
                                   pooling=how, desc=f"features {backbone.spec.name}", progress=progress,
                                   precision=precision)
        spent = (time.perf_counter() - started) / len(missing)
        for row, layer in enumerate(missing):
            _save(root, keys[layer], extracted.pooled[row], spent)
            pooled[layer] = (extracted.pooled[row], spent)
        seconds += spent * len(missing)
    params = sum(p.numel() for p in backbone.model.parameters())
    return CandidateFeatures({layer: example_features(pooled[layer][0], probe) for layer in wanted},
                             total_depth, params, seconds, weights)


def resolve_precision(precision: str) -> str:
    """``auto``: bf16 where the CPU computes it natively (AVX512-BF16 / AMX) or on a GPU, else fp32."""
    if precision != "auto":
        if precision not in PRECISIONS:
            raise ConfigError("probe.precision", precision, ["auto", *sorted(PRECISIONS)])
        return precision
    native = torch.cuda.is_available() or any(  # torch's own CPU-feature probes (absent in old builds)
        getattr(torch.cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return "bfloat16" if native else "float32"


def pool_features(candidates: list, probe: ProbeSample, *, say=print,
                  **options) -> tuple[dict[str, CandidateFeatures], list[str]]:
    """Last-layer features of every candidate (``options`` as :func:`candidate_features`'s), and one
    line per candidate that failed. A truncated candidate of a pre-trained one in the pool shares its
    parent's forward pass and costs only its own loading (for its weights key and size)."""
    children = {c.name: [k for k in candidates if k.parent is not None and k.parent == c.spec]
                for c in candidates if c.kind == "pretrained"}
    features, skipped = {}, []

    def attempt(candidate, extract) -> None:
        try:
            features[candidate.name] = extract()
        except (CodereuseError, OSError, RuntimeError, ValueError) as error:
            skipped.append(f"{candidate.name}: {first_line(error)}")
            say(f"skipped candidate {skipped[-1]}")

    for parent in (c for c in candidates if children.get(c.name)):
        cuts = [child.layers for child in children[parent.name]]
        attempt(parent, lambda: candidate_features(parent.spec, probe, also=cuts, **options))
    parent_of = {id(kid): name for name, kids in children.items() for kid in kids}
    for candidate in candidates:
        parent = features.get(parent_of.get(id(candidate)))
        shared = _cut_features(candidate, parent) if parent is not None else None
        if shared is not None:
            features[candidate.name] = shared
        elif candidate.name not in features:
            attempt(candidate, lambda: candidate_features(candidate.spec, probe, **options))
    for found in features.values():  # each candidate ranks on its own last layer
        found.layers = {found.depth: found.layers[found.depth]}
    return {c.name: features[c.name] for c in candidates if c.name in features}, skipped


def _cut_features(child, parent: CandidateFeatures) -> CandidateFeatures | None:
    """``child``'s features read from its parent's layer ``child.layers``; None where that is not
    exact (an architecture with a norm after its layer stack) or the child does not load."""
    started = time.perf_counter()
    try:
        backbone = load_backbone(child.spec)  # its own weights key and size; no forward pass
    except (CodereuseError, OSError, RuntimeError, ValueError):
        return None  # extracted on its own, which reports the error in one line
    if backbone.model.config.model_type not in EXACT_CUT or depth(backbone) != child.layers:
        return None
    params = sum(p.numel() for p in backbone.model.parameters())
    return CandidateFeatures({child.layers: parent.layers[child.layers]}, child.layers, params,
                             time.perf_counter() - started, weights_fingerprint(backbone))


def example_features(text_features: np.ndarray, probe: ProbeSample) -> np.ndarray:
    """Per-example features: the text's own, or the pair head's [u, v, |u - v|, u * v]."""
    if family(probe.family).paired:
        first = torch.from_numpy(text_features[probe.index[:, 0]])
        second = torch.from_numpy(text_features[probe.index[:, 1]])
        return pair_features(first, second).numpy()
    return text_features[probe.index[:, 0]]


def _layers(layers: str | list[int], total: int) -> list[int]:
    if layers == "last":
        return [total]
    if layers == "all":
        return list(range(total + 1))
    from codereuse.models.features import check_layers

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

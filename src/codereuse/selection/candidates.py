"""The candidates of a pool: pre-trained models plus derived ones, each labelled by how it was made.

Kinds: ``pretrained`` (as shipped), ``truncated`` (the bottom N layers of a pre-trained model),
``reinit`` (the architecture with random weights: a control), ``finetuned`` (a ``train.py``
checkpoint of another task), ``distilled`` (a ``compress.py`` student). Derived candidates are
materialised once as Hugging Face directories under ``<cache>/selection/derived`` so that feature
extraction and brute-force fine-tuning load them like any local model (``model.path``).
A candidate that cannot be built is reported in one line and skipped; the rest still rank.
"""
from __future__ import annotations

import glob
import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from codereuse.compression.student import POOLING as STUDENT_POOLING
from codereuse.data.cache import default_cache_dir
from codereuse.errors import CodereuseError, ConfigError, first_line
from codereuse.models import load_backbone
from codereuse.models.layers import layer_stacks

log = logging.getLogger(__name__)

KINDS = ("pretrained", "truncated", "reinit", "finetuned", "distilled")


@dataclass
class Candidate:
    name: str
    kind: str
    spec: dict  # a model/*.yaml spec; derived candidates carry `path`
    control: bool = False  # an obvious loser (random weights, one layer) that flatters trivial rankers
    pretraining: dict = field(default_factory=dict)  # {"examples": ..., "code": bool}, for the baseline
    note: str = ""
    parent: dict | None = None  # truncated: the spec of the model it was cut from ...
    layers: int | None = None  # ... and how many of its layers it keeps

    @property
    def label(self) -> str:
        return f"{self.kind}, control" if self.control else self.kind


def build_pool(pool: dict, task: str, *, say=print) -> tuple[list[Candidate], list[str]]:
    """Candidates of ``pool`` (the composed ``pool`` config) for ``task``, and one line per skip."""
    models = pool.get("models") or {}
    candidates, skipped = [], []
    for name, entry in (pool.get("candidates") or {}).items():
        try:
            candidates.append(_configured(name, dict(entry), models))
        except (CodereuseError, OSError, RuntimeError, ValueError) as error:
            skipped.append(f"{name}: {first_line(error)}")
    discover = pool.get("discover") or {}
    found, more_skips = discover_checkpoints(discover.get("finetuned") or [], task, models)
    candidates += found
    skipped += more_skips
    candidates += discover_students(discover.get("students") or [], task)
    for line in skipped:
        say(f"skipped candidate {line}")
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise ConfigError("pool.candidates", names, hint="candidate names must be unique")
    return candidates, skipped


def _configured(name: str, entry: dict, models: dict) -> Candidate:
    kind = entry.get("kind", "pretrained")
    if kind not in KINDS:
        raise ConfigError(f"pool.candidates.{name}.kind", kind, KINDS)
    base_name = entry.get("model")
    if base_name not in models:
        raise ConfigError(f"pool.candidates.{name}.model", base_name, sorted(models))
    base = dict(models[base_name])
    info = {"pretraining": dict(entry.get("pretraining") or base.get("pretraining") or {}),
            "control": bool(entry.get("control", False)), "note": entry.get("note", "")}
    base.pop("pretraining", None)
    if kind == "pretrained":
        load_backbone(base)  # fail here, in one line, rather than halfway through extraction
        return Candidate(name, kind, base, **info)
    if kind == "truncated":
        info.update(parent=base, layers=int(entry["layers"]))
        path = truncated(base, info["layers"])
    elif kind == "reinit":
        path = reinitialised(base, int(entry.get("seed", 0)))
        info["pretraining"] = {"examples": 0, "code": False}
    else:
        path = Path(entry["path"])
    return Candidate(name, kind, {**base, "name": name, "path": str(path)}, **info)


def truncated(base: dict, layers: int) -> Path:
    """The bottom ``layers`` transformer layers of ``base`` (embeddings included), saved once."""
    def make(backbone) -> None:
        stack = layer_stacks(backbone.model)[0]
        if not 1 <= layers <= len(stack):
            raise ConfigError("pool.candidates.*.layers", layers, f"1..{len(stack)}")
        del stack[layers:]
        backbone.model.config.num_hidden_layers = layers
    return _derived(base, f"truncated-{layers}", make)


def reinitialised(base: dict, seed: int) -> Path:
    """``base``'s architecture and tokenizer with freshly initialised weights (a control)."""
    def make(backbone) -> None:
        torch.manual_seed(seed)
        # a fresh model from the config: transformers' own initialiser (init_weights() on a loaded
        # model skips weights already marked initialised in transformers 5)
        backbone.model = type(backbone.model)(backbone.model.config)
    return _derived(base, f"reinit-{seed}", make)


def _derived(base: dict, what: str, make) -> Path:
    key = hashlib.sha256(json.dumps([base, what], sort_keys=True, default=str).encode()).hexdigest()[:16]
    target = default_cache_dir() / "selection" / "derived" / f"{base.get('name', 'model')}-{what}-{key}"
    if (target / "config.json").is_file():
        return target
    backbone = load_backbone(base)
    make(backbone)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build-"))
    try:
        backbone.model.save_pretrained(scratch)
        backbone.tokenizer.save_pretrained(scratch)
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)  # atomic: a reader sees the whole directory or none
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def discover_checkpoints(roots: list[str], task: str, models: dict) -> tuple[list[Candidate], list[str]]:
    """``train.py`` fine-tuning checkpoints (``**/checkpoints/best.ckpt``) of tasks other than ``task``."""
    found, skipped = [], []
    for ckpt in sorted({p for root in roots for p in glob.glob(f"{root}/**/checkpoints/best.ckpt", recursive=True)}):
        try:
            candidate = _from_checkpoint(Path(ckpt), task)
        except (CodereuseError, OSError, RuntimeError, KeyError, ValueError) as error:
            skipped.append(f"{ckpt}: {first_line(error)}")
            continue
        if candidate is not None:
            found.append(candidate)
    return found, skipped


def _from_checkpoint(ckpt: Path, task: str) -> Candidate | None:
    from codereuse.checkpoints import load_checkpoint  # weights only: a checkpoint under the roots may come from anyone

    checkpoint = load_checkpoint(ckpt, "checkpoint")
    hparams = checkpoint["hyper_parameters"]
    trained_on = hparams["task"]["name"]
    if trained_on == task:
        return None  # a model fine-tuned on the target task is the answer, not a candidate
    prefix = "model.backbone."
    weights = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    if any(".base_model." in k or "lora_" in k for k in weights):
        raise ConfigError("checkpoint", str(ckpt), hint="only fine-tuned (strategy=finetune) checkpoints become candidates")
    base = dict(hparams["backbone"])
    name = f"{base['name']}_ft_{trained_on}_{ckpt.parent.parent.name}"

    def make(backbone) -> None:
        backbone.model.load_state_dict(weights, strict=False)
    path = _derived(base, f"finetuned-{ckpt.resolve()}-{ckpt.stat().st_mtime_ns}", make)
    return Candidate(name, "finetuned", {**base, "name": name, "path": str(path)},
                     pretraining={"examples": None, "code": True}, note=f"fine-tuned on {trained_on}: {ckpt}")


def discover_students(roots: list[str], task: str) -> list[Candidate]:
    """``compress.py`` students (Hugging Face directories named ``student`` under ``roots``) distilled
    for tasks other than ``task``, read as they were trained: ``cls`` pooling, their own length."""
    found = []
    for config in sorted({p for root in roots for p in glob.glob(f"{root}/**/student/config.json", recursive=True)}):
        directory = Path(config).parent
        trained_on = run_task(directory.parent)
        if trained_on == task:
            continue  # a student of the target task is a compressed answer, not a candidate
        name = f"student_{directory.parent.name}"
        length = json.loads(Path(config).read_text()).get("max_position_embeddings", 512)
        found.append(Candidate(name, "distilled", {"name": name, "architecture": "encoder", "source": "hub",
                                                   "path": str(directory), "max_length": int(length), "pooling": STUDENT_POOLING},
                               pretraining={"examples": None, "code": True},
                               note=f"compress.py student of {trained_on or 'an unrecorded task'}: {directory}"))
    return found


def run_task(run_dir: Path) -> str | None:
    """The task a run directory's job was configured for (its ``.hydra/config.yaml``), if recorded."""
    config = run_dir / ".hydra" / "config.yaml"
    if not config.is_file():
        return None
    task = (yaml.safe_load(config.read_text()) or {}).get("task") or {}
    return task.get("name") if isinstance(task, dict) else None


def merge_equal_weights(candidates: list[Candidate], weights: dict[str, str]) -> tuple[list[Candidate], dict[str, list[str]]]:
    """One candidate per set of equal weights (``weights``: name -> fingerprint), the first listed,
    and the names each kept candidate stands for: a transducer or head-only run keeps its backbone
    frozen, so its "fine-tuned" backbone is the base model itself and would score exactly like it."""
    kept, aliases, first = [], {}, {}
    for candidate in candidates:
        key = weights.get(candidate.name)
        if key is not None and key in first:
            aliases[first[key]].append(candidate.name)
            continue
        if key is not None:
            first[key] = candidate.name
        aliases[candidate.name] = []
        kept.append(candidate)
    return kept, {name: others for name, others in aliases.items() if others}

"""The teacher: a fine-tuned run (directory or checkpoint) loaded back as its own module class, and
its soft labels (and the representation its classifier reads) on the unlabelled code, computed once
and cached by content."""
from __future__ import annotations

import base64
import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from codereuse.checkpoints import load_checkpoint
from codereuse.data.cache import Cache, cache_key
from codereuse.data.collate import Collator, encode_records
from codereuse.errors import ConfigError, first_line
from codereuse.families import family as task_family, label_families
from codereuse.methods.base import ReuseModule
from codereuse.methods.heads import classifier_inputs
from codereuse.models.fingerprint import weights_fingerprint

DISTILLABLE = label_families()  # ("classification", "pair"): the student is a classifier
CHECKPOINT_NAMES = ("best.ckpt", "last.ckpt")
SOFT_LABELS_VERSION = 1


@dataclass
class Teacher:
    module: torch.nn.Module  # the ReuseModule, in eval mode
    checkpoint: Path
    config: dict | None  # the train.py config of the run that wrote it (its checkpoint's run record, or .hydra/config.yaml)

    @property
    def task(self) -> dict:
        return self.module.hparams.task

    @property
    def max_length(self) -> int:
        if self.config:
            return min(self.config["model"]["max_length"], self.config["task"]["max_length"])
        return self.module.hparams.backbone.get("max_length", 512)

    def frozen_reference(self) -> dict:
        """The frozen backbone's test score its training run recorded beside it (``test/frozen*`` of the
        run's ``metrics.json``), where that run scored the whole test split; else nothing."""
        subset = ((self.config or {}).get("task") or {}).get("max_eval_examples")
        metrics = _run_metrics(self.checkpoint)
        if subset is not None or metrics.get("test/frozen") is None:
            return {}
        return {key: value for key, value in metrics.items() if key.startswith("test/frozen")}

    def fingerprint(self) -> str:
        """The teacher's weights, tokenizer and task: not the checkpoint file's bytes, which also
        record where the run lived, so a moved or re-trained identical teacher reuses its soft labels."""
        return weights_fingerprint(self.module, self.module.model.tokenizer, self.task)


def find_checkpoint(path: str | Path) -> Path:
    """``path`` itself if a file, else ``<run>/checkpoints/best.ckpt`` (or last.ckpt) of a run directory."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for directory in (path / "checkpoints", path):
            for name in CHECKPOINT_NAMES:
                if (directory / name).is_file():
                    return directory / name
        raise ConfigError("teacher", str(path), hint="no checkpoints/best.ckpt or last.ckpt in this run directory")
    raise ConfigError("teacher", str(path), hint="no such run directory or checkpoint file")


def load_teacher(path: str | Path) -> Teacher:
    checkpoint_path = find_checkpoint(path)
    checkpoint = load_checkpoint(checkpoint_path, "teacher")
    try:
        hparams, state = checkpoint["hyper_parameters"], checkpoint["state_dict"]
    except KeyError as error:  # a torch file, not one train.py wrote
        raise ConfigError("teacher", str(checkpoint_path), hint=f"not a readable codereuse checkpoint: no {first_line(error)}") from None
    record = checkpoint.get("codereuse") or {}
    config = record.get("config") or _run_config(checkpoint_path)
    family = (hparams.get("task") or {}).get("family")
    if family not in DISTILLABLE:
        task = (hparams.get("task") or {}).get("name", "?")
        raise ConfigError("teacher", str(checkpoint_path), hint=f"a {family} teacher (task {task}) cannot be distilled: "
                          f"compress.py distills {' and '.join(DISTILLABLE)} tasks")
    module_class = _module_class(record.get("module_class") or (config or {}).get("strategy", {}).get("_target_"), checkpoint_path)
    module = module_class(**hparams)
    missing, unexpected = module.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("model.prefix_cache")]:
        raise ConfigError("teacher", str(checkpoint_path), hint=f"its weights do not fit {module_class.__name__} "
                          f"({len(missing)} missing, {len(unexpected)} unexpected)")
    return Teacher(module.eval(), checkpoint_path, config)


@dataclass
class TeacherTargets:
    logits: torch.Tensor  # (N, C)
    features: torch.Tensor | None = None  # (N, D): what the teacher's classifier layer reads

    @staticmethod
    def concat(parts: list[TeacherTargets]) -> TeacherTargets:
        features = None if parts[0].features is None else torch.cat([p.features for p in parts])
        return TeacherTargets(torch.cat([p.logits for p in parts]), features)


def teacher_targets(teacher: Teacher, records: list[dict], cache_dir: str | None, features: bool = False,
                    batch_size: int = 64, progress: bool = True) -> TeacherTargets:
    """The teacher's logits on ``records`` (labels ignored) and, with ``features``, the representation
    its classifier reads, from one pass, cached under the content hashes of the teacher
    (:meth:`Teacher.fingerprint`) and of the inputs; a corrupt entry is rebuilt (``data.cache``).
    Features are stored as float16 (half the bytes; far finer than the distillation loss can tell)."""
    fields = task_family(teacher.task["family"]).inputs
    inputs = [[r[f] for f in fields] for r in records]
    key = cache_key("soft-labels", SOFT_LABELS_VERSION, teacher.fingerprint(), teacher.max_length,
                    hashlib.sha256(json.dumps(inputs).encode()).hexdigest())
    cache = Cache(cache_dir)
    logits = cache.load("soft-labels", key)
    cached_features = cache.load("teacher-features", key) if features else None
    if logits is not None and len(logits) == len(records) and (not features or _fits(cached_features, len(records))):
        return TeacherTargets(torch.tensor(logits), _decode(cached_features) if features else None)
    logits_t, features_t = _teacher_pass(teacher, [{f: r[f] for f in fields} for r in records], batch_size, progress)
    cache.save("soft-labels", key, logits_t.tolist())
    if not features:
        return TeacherTargets(logits_t)
    cache.save("teacher-features", key, _encode(features_t))  # ~1 KB per input: only when asked for
    return TeacherTargets(logits_t, features_t)


@torch.no_grad()
def _teacher_pass(teacher: Teacher, unlabelled: list[dict], batch_size: int, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    model = teacher.module.model.eval()
    tokenizer, family = model.tokenizer, teacher.task["family"]
    collate = Collator(tokenizer.pad_token_id, "distill")
    logits = []
    with classifier_inputs(model.head) as representations:
        for start in tqdm(range(0, len(unlabelled), batch_size), desc="teacher soft labels", unit="batch", disable=not progress):
            rows = encode_records(unlabelled[start:start + batch_size], tokenizer, family, model.spec.architecture,
                                  max_length=teacher.max_length, max_target_length=1)
            batch = collate(rows)
            batch["labels"] = torch.zeros(len(rows), dtype=torch.long)  # the heads' loss needs some; ignored
            logits.append(model(batch).logits.float())
    return torch.cat(logits), torch.cat(representations).float()


def _encode(features: torch.Tensor) -> dict:
    return {"shape": list(features.shape), "float16": base64.b64encode(features.half().numpy().tobytes()).decode()}


def _fits(entry: object, rows: int) -> bool:
    return isinstance(entry, dict) and entry.get("shape", [None])[0] == rows and "float16" in entry


def _decode(entry: dict) -> torch.Tensor:
    values = np.frombuffer(base64.b64decode(entry["float16"]), dtype=np.float16).reshape(entry["shape"])
    return torch.from_numpy(values.astype(np.float32))


def _run_metrics(checkpoint_path: Path) -> dict:
    for run_dir in (checkpoint_path.parent.parent, checkpoint_path.parent):
        path = run_dir / "metrics.json"
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except (ValueError, OSError):  # an unreadable record: the reference is simply absent
                return {}
    return {}


def _run_config(checkpoint_path: Path) -> dict | None:
    for run_dir in (checkpoint_path.parent.parent, checkpoint_path.parent):
        config = run_dir / ".hydra" / "config.yaml"
        if config.is_file():
            return yaml.safe_load(config.read_text())
    return None


def _module_class(name: str | None, checkpoint_path: Path):
    if not name:
        raise ConfigError("teacher", str(checkpoint_path), hint="the checkpoint does not record its module class and "
                          "no .hydra/config.yaml is beside it")
    module_name, _, qualname = name.rpartition(".")
    # the name comes from the file: only this project's modules are imported, only its modules built
    if module_name.split(".")[0] != "codereuse":
        raise ConfigError("teacher", str(checkpoint_path), hint=f"written by {name}, not a codereuse module")
    try:
        module_class = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError):
        raise ConfigError("teacher", str(checkpoint_path), hint=f"written by {name}, which is not importable") from None
    if not (isinstance(module_class, type) and issubclass(module_class, ReuseModule)):
        raise ConfigError("teacher", str(checkpoint_path), hint=f"written by {name}, not a codereuse module")
    return module_class


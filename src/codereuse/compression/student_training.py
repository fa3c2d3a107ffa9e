"""The student's Lightning run: its initial directory (config.json + BPE, what ``model.source=config``
builds a random model from), then distillation on the transfer set against the teacher's cached
outputs, with train.py's trainer config and loggers, keeping the best validation epoch."""
from __future__ import annotations

import json
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from codereuse.checkpoints import load_checkpoint
from codereuse.compression import student as student_lib
from codereuse.compression.distill import DistillationModule
from codereuse.compression.settings import DistillSettings
from codereuse.compression.space import bert_config
from codereuse.compression.teacher import TeacherTargets


def write_init(directory: Path, arch, max_positions: int, num_labels: int, tokenizer, dropout: float) -> None:
    """config.json + tokenizer: what ``model.source=config`` builds a randomly initialised student from."""
    directory.mkdir(parents=True, exist_ok=True)
    bert_config(arch, max_positions, num_labels, tokenizer, dropout).save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def train_student(cfg: DictConfig, settings: DistillSettings, data, unlabelled: list[dict], targets: TeacherTargets,
                  student_dir: Path, num_labels: int) -> tuple[DistillationModule, list]:
    """The student from ``student_dir/init`` distilled on ``unlabelled`` (``targets``: the teacher's
    outputs, row for row), in eval mode, and the loggers that recorded it."""
    init = student_dir / "init"
    spec = {"name": "student", "architecture": "encoder", "source": "config", "path": str(init),
            "max_length": int(_max_positions(init)), "pooling": student_lib.POOLING}
    # always the classification family: a student cross-encodes a pair as one sequence
    task = {"name": data.name, "family": "classification", "num_labels": num_labels, "label_names": data.label_names,
            "dropout": settings.dropout}
    feature_size = None if targets.features is None else targets.features.shape[1]
    module = DistillationModule(spec, task, distill=settings, feature_size=feature_size,
                                optim=settings.optim, seed=cfg.seed)
    module.set_soft_targets(targets.logits, targets.features)
    datamodule = student_lib.StudentDataModule(data.family, {"train": unlabelled, "valid": data.splits["valid"],
                                               "test": data.splits["test"]}, module.tokenizer, spec["max_length"],
                                               settings.batch_size, settings.eval_batch_size, cfg.seed, cfg.data.num_workers)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    checkpoint = pl.callbacks.ModelCheckpoint(dirpath=str(student_dir / "checkpoints"), filename="best",
                                              monitor=cfg.task.monitor, mode=cfg.task.monitor_mode)
    trainer = instantiate(cfg.trainer, max_epochs=settings.max_epochs, max_steps=settings.max_steps, logger=loggers or False,
                          callbacks=[checkpoint, pl.callbacks.TQDMProgressBar(refresh_rate=10)],
                          default_root_dir=str(student_dir), enable_checkpointing=True)
    trainer.fit(module, datamodule=datamodule)
    if checkpoint.best_model_path:  # the best validation epoch, as train.py tests
        module.load_state_dict(load_checkpoint(checkpoint.best_model_path, "student")["state_dict"], strict=False)
    return module.eval(), loggers


def _max_positions(directory: Path) -> int:
    return json.loads((directory / "config.json").read_text())["max_position_embeddings"]

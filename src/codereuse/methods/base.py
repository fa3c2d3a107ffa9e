"""The LightningModule every reuse strategy shares: task heads, steps, metrics, optimiser.

A strategy subclasses :class:`ReuseModule` and implements one hook, :meth:`adapt_backbone`, which
decides what of the pre-trained backbone trains (freeze policy, peft adapter, transducer, ...).
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from codereuse.errors import ConfigError
from codereuse.methods.freeze import count_parameters
from codereuse.methods.settings import OptimSettings, TaskSettings
from codereuse.methods.task_model import TaskModel
from codereuse.metrics.by_kind import record_kinds
from codereuse.models import Backbone, BackboneSpec, load_backbone

class ReuseModule(pl.LightningModule, ABC):
    """``task`` and ``optim`` are :class:`TaskSettings` / :class:`OptimSettings` or the plain dicts
    Hydra passes and checkpoints store; hyperparameters always hold the plain dicts. ``optim=None``
    builds a module that cannot train (evaluation, a loaded teacher)."""

    def __init__(self, backbone: dict, task: TaskSettings | dict, optim: OptimSettings | dict | None = None, seed: int = 0,
                 freeze: dict | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self._plain_hyperparameters(task=task, optim=optim)
        self.optim = None if optim is None else OptimSettings.of(optim)
        self.task_settings = TaskSettings.of(task)
        self.family = self.task_settings.task_family
        loaded = load_backbone(BackboneSpec.from_dict(backbone))
        self.tokenizer = loaded.tokenizer
        self.backbone_params = count_parameters(loaded.model)[1]  # before any adapter is added
        self.model = self.build_task_model(self.adapt_backbone(loaded), loaded)
        self.model.input_fusion = self.build_input_fusion(self.model)
        self.model.output_fusion = self.build_output_fusion(self.model)
        if self.parameter_counts()["trainable_params"] == 0:
            raise ConfigError("freeze", (freeze or {}).get("name"), hint=f"nothing would train: {loaded.spec.name} has no "
                              f"task head of its own on {self.family.name} tasks; choose a policy that leaves layers trainable")
        self.model.outputs.add_metrics(self, self.task_settings)
        self._outputs: dict[str, list] = {}
        # from_pretrained() returns eval mode and Lightning keeps each module's mode: without this,
        # trainable layers would train without dropout
        self.train()

    # the kind of each test row (codereuse.metrics.by_kind), read from the data module at test start:
    # test/acc/<kind> is logged
    test_kinds: list[str | None] | None = None
    through_wrapper = False  # set by strategies whose adapter acts in the wrapper's forward

    @abstractmethod
    def adapt_backbone(self, backbone: Backbone) -> nn.Module:
        """Return the backbone to train with (frozen, wrapped, ...); called once in ``__init__``."""

    def build_input_fusion(self, model: TaskModel) -> nn.Module | None:
        """An optional hook on the backbone's input embeddings (``TaskModel.input_fusion``)."""
        return None

    def build_task_model(self, backbone: nn.Module, loaded: Backbone) -> TaskModel:
        """The task model around the adapted ``backbone`` (a strategy may encode its inputs otherwise)."""
        return TaskModel(backbone, loaded.tokenizer, loaded.spec, self.task_settings, through_wrapper=self.through_wrapper)

    def build_output_fusion(self, model: TaskModel) -> nn.Module | None:
        """An optional hook on the backbone's last-layer token states (``TaskModel.output_fusion``);
        applied to classification, pair and retrieval fields, not to seq2seq decoding."""
        return None

    def head_parameters(self) -> list[nn.Parameter]:
        """The task head's trainable parameters (those it shares with the backbone, e.g. tied
        embeddings, count as the backbone's)."""
        backbone_ids = {id(p) for p in self.model.backbone.parameters()}
        head = {id(p): p for m in self.model.head_modules() for p in m.parameters() if id(p) not in backbone_ids}
        return [p for p in head.values() if p.requires_grad]

    def parameter_counts(self) -> dict[str, float]:
        """Trainable parameters split into the adapter (everything outside the task head: unfrozen
        backbone layers, peft adapters, a transducer) and the head, each also in % of the backbone."""
        trainable, total = count_parameters(self.model)
        head_params = sum(p.numel() for p in self.head_parameters())
        adapter_params = trainable - head_params
        return {"trainable_params": trainable, "total_params": total, "backbone_params": self.backbone_params,
                "adapter_params": adapter_params, "head_params": head_params,
                "adapter_pct": 100.0 * adapter_params / self.backbone_params,
                "head_pct": 100.0 * head_params / self.backbone_params}

    # --- training -------------------------------------------------------------------------------
    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        # dropout masks depend only on (seed, step, micro-batch, rank), so a resumed run replays an
        # uninterrupted one, while accumulated micro-batches and DDP ranks each draw their own
        torch.manual_seed(dropout_seed(self.hparams.seed, self.global_step, batch_idx, self.global_rank))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.model(batch).loss
        self.log("train/loss", loss, prog_bar=True, batch_size=_batch_size(batch))
        return loss

    # --- evaluation -----------------------------------------------------------------------------
    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _eval_step(self, batch: dict, stage: str) -> None:
        output = self.model(batch)
        self.log(f"{stage}/loss", output.loss, sync_dist=True, batch_size=_batch_size(batch))
        self.model.outputs.eval_step(self, batch, output, stage, self._outputs.setdefault(stage, []))

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.family.predicts_labels and hasattr(datamodule, "records"):  # test row i is record i
            self.test_kinds = record_kinds(datamodule.records("test"))

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def _eval_epoch_end(self, stage: str) -> None:
        # logs the family's metrics (codereuse.families: output.metrics) as <stage>/<metric>
        self.model.outputs.eval_epoch_end(self, stage, self._outputs.pop(stage, []))

    # --- checkpoints (the run record) ----------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # who wrote it; train.py's RunRecord callback adds how it was configured ("config",
        # "overrides"): resume, teacher loading and drift analysis read this
        record = checkpoint.setdefault("codereuse", {})
        record["module_class"] = module_class_name(self)
        record.setdefault("config", None)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        written = (checkpoint.get("codereuse") or {}).get("module_class")
        if written and written != module_class_name(self):
            raise ConfigError("checkpoint", written, hint=f"it was written by {written}, not by {module_class_name(self)}")

    # --- optimisation ---------------------------------------------------------------------------
    def parameter_groups(self) -> list[dict]:
        """One AdamW group of every trainable parameter, or, with ``optim.head_lr``, the head's
        parameters in a group of their own at that rate (the warmup schedule scales both)."""
        head_lr = self.optim.head_lr if self.optim is not None else None
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if head_lr is None:
            return [{"params": trainable}]
        head_ids = {id(p) for p in self.head_parameters()}
        rest = [p for p in trainable if id(p) not in head_ids]
        groups = [{"params": rest}] if rest else []
        return [*groups, {"params": [p for p in trainable if id(p) in head_ids], "lr": float(head_lr)}]

    def configure_optimizers(self):
        if self.optim is None:
            raise ConfigError("strategy.optim", None, hint="training needs optimiser settings (lr, weight_decay, warmup_ratio)")
        optimizer, schedule = self.optim.build(self.parameter_groups(), self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def _plain_hyperparameters(self, **given) -> None:
        """Hyperparameters hold plain data (checkpoints, loggers): settings objects as their dicts."""
        plain = {key: value.to_dict() for key, value in given.items() if value is not None and not isinstance(value, Mapping)}
        if plain:
            self.hparams.update(plain)
            self._hparams_initial = copy.deepcopy(self._hparams)


def dropout_seed(seed: int, step: int, micro_batch: int, rank: int) -> int:
    """A 64-bit seed mixed from all four numbers (numpy's SeedSequence hashing): nearby tuples give
    unrelated seeds, where ``seed * k + step`` would collide across runs and repeat across ranks."""
    entropy = [seed % 2**64, step, micro_batch, rank]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


def module_class_name(module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def _batch_size(batch: dict) -> int:
    return next(v for v in batch.values() if isinstance(v, torch.Tensor)).shape[0]

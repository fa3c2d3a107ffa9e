"""The LightningModule every reuse strategy shares: task heads, steps, metrics, optimiser.

A strategy subclasses :class:`ReuseModule` and implements one hook, :meth:`adapt_backbone`, which
decides what of the pre-trained backbone trains (freeze policy, peft adapter, transducer, ...).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from codereuse.errors import ConfigError
from codereuse.methods.freeze import count_parameters
from codereuse.methods.task_model import TaskModel
from codereuse.metrics import exact_match, mean_reciprocal_rank, smoothed_bleu
from codereuse.metrics.by_kind import accuracy_by_kind
from codereuse.metrics.classification import classification_metrics
from codereuse.models import Backbone, BackboneSpec, load_backbone
from codereuse.utils.distributed import gather_lists

# head_lr: the task head's own learning rate (null: ``lr``); an adapter and the head it feeds
# often want different step sizes, and a comparison can then hold the head's fixed across arms
DEFAULT_OPTIM = {"lr": 5e-5, "weight_decay": 0.01, "warmup_ratio": 0.1, "head_lr": None}


class ReuseModule(pl.LightningModule, ABC):
    def __init__(self, backbone: dict, task: dict, optim: dict | None = None, seed: int = 0, freeze: dict | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.optim = {**DEFAULT_OPTIM, **(optim or {})}
        head_lr = self.optim["head_lr"]
        if head_lr is not None and (isinstance(head_lr, bool) or not isinstance(head_lr, (int, float)) or head_lr <= 0):
            raise ConfigError("strategy.optim.head_lr", head_lr, hint="a positive learning rate, or null for optim.lr")
        self.family = task["family"]
        loaded = load_backbone(BackboneSpec.from_dict(backbone))
        self.tokenizer = loaded.tokenizer
        self.backbone_params = count_parameters(loaded.model)[1]  # before any adapter is added
        self.model = TaskModel(
            self.adapt_backbone(loaded), loaded.tokenizer, loaded.spec, self.family,
            num_labels=task.get("num_labels"), dropout=task.get("dropout", 0.1),
            decoder_layers=task.get("decoder_layers", 2), max_target_length=task.get("max_target_length", 64),
            through_wrapper=self.through_wrapper, head_hidden=task.get("head_hidden"),
        )
        self.model.input_fusion = self.build_input_fusion(self.model)
        self.model.output_fusion = self.build_output_fusion(self.model)
        if self.parameter_counts()["trainable_params"] == 0:
            raise ConfigError("freeze", (freeze or {}).get("name"), hint=f"nothing would train: {loaded.spec.name} has no "
                              f"task head of its own on {self.family} tasks; choose a policy that leaves layers trainable")
        if self.family in ("classification", "pair"):
            self.val_metrics = classification_metrics(task.get("num_labels") or 2, "val/")
            self.test_metrics = classification_metrics(task.get("num_labels") or 2, "test/")
        self._outputs: dict[str, list] = {}
        # from_pretrained() returns eval mode and Lightning keeps each module's mode: without this,
        # trainable layers would train without dropout
        self.train()

    # the kind of each test row (codereuse.metrics.by_kind), set by cli.train: test/acc/<kind> is logged
    test_kinds: list[str | None] | None = None
    through_wrapper = False  # set by strategies whose adapter acts in the wrapper's forward

    @abstractmethod
    def adapt_backbone(self, backbone: Backbone) -> nn.Module:
        """Return the backbone to train with (frozen, wrapped, ...); called once in ``__init__``."""

    def build_input_fusion(self, model: TaskModel) -> nn.Module | None:
        """An optional hook on the backbone's input embeddings (``TaskModel.input_fusion``)."""
        return None

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
        store = self._outputs.setdefault(stage, [])
        if self.family in ("classification", "pair"):
            predicted = output.logits.argmax(dim=-1)
            getattr(self, f"{stage}_metrics").update(predicted, batch["labels"])
            if stage == "test" and self.test_kinds and "index" in batch:  # accuracy per example kind
                store.append((batch["index"], predicted, batch["labels"]))
        elif self.family == "retrieval":
            store.append((self.model.embed_queries(batch), self.model.embed_codes(batch)))
        else:
            predictions = self.model.generate(batch, num_beams=self.hparams.task.get("num_beams", 1))
            store.extend(zip(predictions, batch["target_text"]))

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def _eval_epoch_end(self, stage: str) -> None:
        store = self._outputs.pop(stage, [])
        if self.family in ("classification", "pair"):
            metrics = getattr(self, f"{stage}_metrics")
            self.log_dict(metrics.compute())
            metrics.reset()
            if store:  # logged, so they also come back from spawned DDP workers
                indices, predicted, labels = (self.all_gather(torch.cat([row[k] for row in store])).reshape(-1).tolist()
                                              for k in range(3))
                # dicts: DDP's padded repeats of an example collapse into one
                by_kind = accuracy_by_kind(self.test_kinds, dict(zip(indices, labels)), dict(zip(indices, predicted)))
                for kind, value in by_kind.items():
                    self.log(f"test/acc/{kind}", value)
        elif self.family == "retrieval" and store:
            queries = self.all_gather(torch.cat([q for q, _ in store])).reshape(-1, store[0][0].shape[-1])
            codes = self.all_gather(torch.cat([c for _, c in store])).reshape(-1, store[0][1].shape[-1])
            self.log(f"{stage}/mrr", mean_reciprocal_rank(queries @ codes.T), rank_zero_only=True)
        elif self.family == "seq2seq":
            pairs = gather_lists(store)
            predictions, references = [p for p, _ in pairs], [r for _, r in pairs]
            self.log(f"{stage}/bleu", smoothed_bleu(predictions, references), rank_zero_only=True)
            self.log(f"{stage}/em", exact_match(predictions, references), rank_zero_only=True)
            self.examples = pairs[:5]

    # --- checkpoints (the run record) ----------------------------------------------------------------
    run_record: dict | None = None  # {"config", "overrides"} of the train.py run, set by cli.train

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # who wrote it and how it was configured: resume, teacher loading and drift analysis read this
        checkpoint["codereuse"] = {"module_class": module_class_name(self), **(self.run_record or {"config": None})}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        written = (checkpoint.get("codereuse") or {}).get("module_class")
        if written and written != module_class_name(self):
            raise ConfigError("checkpoint", written, hint=f"it was written by {written}, not by {module_class_name(self)}")

    # --- optimisation ---------------------------------------------------------------------------
    def parameter_groups(self) -> list[dict]:
        """One AdamW group of every trainable parameter, or, with ``optim.head_lr``, the head's
        parameters in a group of their own at that rate (the warmup schedule scales both)."""
        head_lr = self.optim.get("head_lr")
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if head_lr is None:
            return [{"params": trainable}]
        head_ids = {id(p) for p in self.head_parameters()}
        rest = [p for p in trainable if id(p) not in head_ids]
        groups = [{"params": rest}] if rest else []
        return [*groups, {"params": [p for p in trainable if id(p) in head_ids], "lr": float(head_lr)}]

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameter_groups(), lr=self.optim["lr"], weight_decay=self.optim["weight_decay"])
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        schedule = get_linear_schedule_with_warmup(optimizer, int(self.optim["warmup_ratio"] * total), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def dropout_seed(seed: int, step: int, micro_batch: int, rank: int) -> int:
    """A 64-bit seed mixed from all four numbers (numpy's SeedSequence hashing): nearby tuples give
    unrelated seeds, where ``seed * k + step`` would collide across runs and repeat across ranks."""
    entropy = [seed % 2**64, step, micro_batch, rank]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


def module_class_name(module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def _batch_size(batch: dict) -> int:
    return next(v for v in batch.values() if isinstance(v, torch.Tensor)).shape[0]

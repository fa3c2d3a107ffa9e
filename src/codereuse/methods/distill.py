"""Knowledge distillation (Compressor): a student trained on unlabelled code against a teacher's soft
labels - KL divergence at temperature T, scaled by T^2 (Hinton et al.) - optionally mixed with the
hard labels where the code has them.

Everything but the training loss is the base's: validation/test steps and metrics on the labelled
splits, the optimiser and schedule. The teacher's logits are computed once by the caller
(``compression.teacher.soft_labels``, cached) and handed over as a table indexed by the training
rows' ``index``, so no teacher runs during training.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codereuse.errors import ConfigError
from codereuse.methods.base import ReuseModule, _batch_size
from codereuse.models import Backbone

DEFAULT_DISTILL = {"temperature": 10.0, "hard_weight": 0.0}


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor | None,
                      temperature: float, hard_weight: float) -> torch.Tensor:
    """(1 - w) T^2 KL(softmax(t/T) || softmax(s/T)) + w CE(s, labels); rows labelled -100 have no hard label."""
    soft = F.kl_div(F.log_softmax(student / temperature, dim=-1), F.softmax(teacher / temperature, dim=-1),
                    reduction="batchmean") * temperature ** 2
    if hard_weight == 0 or labels is None or not (labels != -100).any():
        return soft
    return (1 - hard_weight) * soft + hard_weight * F.cross_entropy(student, labels, ignore_index=-100)


class DistillationModule(ReuseModule):
    def __init__(self, backbone: dict, task: dict, distill: dict | None = None, optim: dict | None = None,
                 seed: int = 0, freeze: dict | None = None) -> None:
        self.distill = {**DEFAULT_DISTILL, **(distill or {})}
        if self.distill["temperature"] <= 0:
            raise ConfigError("distill.temperature", self.distill["temperature"], hint="a positive temperature")
        if not 0 <= self.distill["hard_weight"] <= 1:
            raise ConfigError("distill.hard_weight", self.distill["hard_weight"], hint="a weight in [0, 1]")
        if task["family"] not in ("classification", "pair"):
            raise ConfigError("task", task.get("name"), hint=f"distillation needs a classification or pair task, not {task['family']}")
        super().__init__(backbone, task, optim, seed, freeze)
        self.register_buffer("soft_targets", torch.empty(0, task.get("num_labels") or 2), persistent=False)

    def adapt_backbone(self, backbone: Backbone) -> nn.Module:
        return backbone.model  # the student trains whole

    def set_soft_targets(self, logits: torch.Tensor) -> None:
        """The teacher's logits, one row per training example (row ``i`` for ``batch["index"] == i``)."""
        self.soft_targets = logits.detach().float().to(self.device)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if len(self.soft_targets) == 0:
            raise ConfigError("distill", "no soft labels", hint="call set_soft_targets(teacher logits) before fitting")
        logits = self.model(batch).logits
        loss = distillation_loss(logits, self.soft_targets[batch["index"]], batch.get("labels"),
                                 self.distill["temperature"], self.distill["hard_weight"])
        self.log("train/loss", loss, prog_bar=True, batch_size=_batch_size(batch))
        return loss

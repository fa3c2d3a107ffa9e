"""Knowledge distillation (Compressor): a student trained on unlabelled code against a teacher's soft
labels - KL divergence at temperature T, scaled by T^2 (Hinton et al.) - optionally mixed with the
hard labels where the code has them, and optionally with feature distillation: the representation
the student's classifier reads, linearly projected, regressed onto the teacher's (FitNets-style MSE
on standardised teacher features), which the teacher pass that gives the logits gives for free.
On classify it did not help (docs/compress.md); it stays an option, off by default.

Everything but the training loss is the base's: validation/test steps and metrics on the labelled
splits, the optimiser and schedule. The teacher's outputs are computed once by the caller
(``compression.teacher.teacher_targets``, cached) and handed over as tables indexed by the training
rows' ``index``, so no teacher runs during training. The projection is used in training only; the
exported student is ``self.model`` alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codereuse.compression.settings import DistillSettings
from codereuse.errors import ConfigError
from codereuse.methods.base import ReuseModule, _batch_size
from codereuse.methods.heads import classifier_inputs
from codereuse.families import label_families
from codereuse.methods.settings import OptimSettings, TaskSettings
from codereuse.models import Backbone


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor | None,
                      temperature: float, hard_weight: float) -> torch.Tensor:
    """(1 - w) T^2 KL(softmax(t/T) || softmax(s/T)) + w CE(s, labels), both averaged over the batch:
    rows labelled -100 (unlabelled code) add no hard term but count in the mean, so a labelled row
    weighs as much as any other and every batch has the same (1 - w) share of the soft term."""
    soft = F.kl_div(F.log_softmax(student / temperature, dim=-1), F.softmax(teacher / temperature, dim=-1),
                    reduction="batchmean") * temperature ** 2
    if hard_weight == 0 or labels is None:
        return soft
    hard = F.cross_entropy(student, labels, ignore_index=-100, reduction="sum") / student.shape[0]
    return (1 - hard_weight) * soft + hard_weight * hard


def standardise(features: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per dimension, so the feature loss is on the scale of the KL term
    whatever the teacher's activation range (a constant dimension stays zero)."""
    return (features - features.mean(dim=0)) / features.std(dim=0, correction=0).clamp(min=1e-6)


class DistillationModule(ReuseModule):
    """``distill``: :class:`DistillSettings` or its plain dict (hyperparameters hold the dict);
    ``feature_size``: the width of the teacher's features, which feature distillation regresses onto."""

    def __init__(self, backbone: dict, task: dict, distill: DistillSettings | dict, feature_size: int | None = None,
                 optim: OptimSettings | dict | None = None, seed: int = 0, freeze: dict | None = None) -> None:
        self.settings = DistillSettings.of(distill)
        if self.settings.feature_weight > 0 and not feature_size:
            raise ConfigError("distill.feature_weight", self.settings.feature_weight,
                              hint="feature distillation needs feature_size, the width of the teacher's features")
        settings = TaskSettings.of(task)
        if not settings.task_family.predicts_labels:
            raise ConfigError("task", settings.name, hint=f"distillation needs a label task ({', '.join(label_families())}), "
                              f"not {settings.family}")
        super().__init__(backbone, task, optim, seed, freeze)
        self._plain_hyperparameters(distill=self.settings)
        self.register_buffer("soft_targets", torch.empty(0, self.task_settings.num_classes), persistent=False)
        self.feature_projection: nn.Linear | None = None
        if self.settings.feature_weight > 0:
            self.feature_projection = nn.Linear(self.model.head.representation_size, int(feature_size))
            self.register_buffer("feature_targets", torch.empty(0, int(feature_size)), persistent=False)

    def adapt_backbone(self, backbone: Backbone) -> nn.Module:
        return backbone.model  # the student trains whole

    def set_soft_targets(self, logits: torch.Tensor, features: torch.Tensor | None = None) -> None:
        """The teacher's logits (and, for feature distillation, its classifier's input), one row per
        training example (row ``i`` for ``batch["index"] == i``)."""
        self.soft_targets = logits.detach().float().to(self.device)
        if self.feature_projection is not None:
            if features is None or features.shape != (len(logits), self.feature_projection.out_features):
                shape = None if features is None else tuple(features.shape)
                raise ConfigError("distill.feature_weight", self.settings.feature_weight,
                                  hint=f"needs teacher features of shape ({len(logits)}, {self.feature_projection.out_features}), got {shape}")
            self.feature_targets = standardise(features.detach().float()).to(self.device)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if len(self.soft_targets) == 0:
            raise ConfigError("distill", "no soft labels", hint="call set_soft_targets(teacher logits) before fitting")
        with classifier_inputs(self.model.head) as representations:
            logits = self.model(batch).logits
        loss = distillation_loss(logits, self.soft_targets[batch["index"]], batch.get("labels"),
                                 self.settings.temperature, self.settings.hard_weight)
        if self.feature_projection is not None:
            feature_loss = F.mse_loss(self.feature_projection(representations[-1]), self.feature_targets[batch["index"]])
            self.log("train/feature_loss", feature_loss, batch_size=_batch_size(batch))
            loss = loss + self.settings.feature_weight * feature_loss
        self.log("train/loss", loss, prog_bar=True, batch_size=_batch_size(batch))
        return loss

    def parameter_groups(self) -> list[dict]:
        groups = super().parameter_groups()
        if self.feature_projection is not None:  # trains with the student, at the base rate
            groups.append({"params": list(self.feature_projection.parameters())})
        return groups

"""ProxyScorerModule: a small MLP trained on a candidate's frozen features as a proxy of how well
the candidate would fine-tune (the "small MLP proxy" scorer of model selection)."""
from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


class ProxyScorerModule(pl.LightningModule):
    """Standardised features -> Linear -> GELU -> Dropout -> Linear; cross-entropy, AdamW."""

    def __init__(self, in_features: int, num_labels: int, hidden: int = 128, dropout: float = 0.1,
                 lr: float = 1e-3, weight_decay: float = 1e-2) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, num_labels))
        # the training features' statistics, stored with the weights so a checkpoint scores alone
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("scale", torch.ones(in_features))

    def standardise_with(self, features: torch.Tensor) -> None:
        self.mean.copy_(features.mean(dim=0))
        self.scale.copy_(features.std(dim=0).clamp(min=1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.mean) / self.scale)

    def training_step(self, batch, batch_index):
        features, labels = batch
        loss = F.cross_entropy(self(features), labels)
        self.log("train/loss", loss, prog_bar=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    @torch.no_grad()
    def accuracy(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        self.eval()
        return float((self(features).argmax(dim=-1) == labels).float().mean())

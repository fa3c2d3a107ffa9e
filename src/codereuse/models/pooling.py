"""Pooling of token states to one vector per sequence: ``cls``, ``mean`` (over real tokens) or ``last``."""
from __future__ import annotations

import torch


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool (B, T, H) states to (B, H). ``mask`` may be shorter than T when a prompt was prepended."""
    if mask.shape[1] < hidden.shape[1]:  # peft prompt tuning prepends virtual tokens
        extra = mask.new_ones(mask.shape[0], hidden.shape[1] - mask.shape[1])
        mask = torch.cat([extra, mask], dim=1)
    if how == "cls":
        return hidden[:, 0]
    if how == "last":  # right padding: the last real token
        last = mask.sum(dim=1).long() - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)

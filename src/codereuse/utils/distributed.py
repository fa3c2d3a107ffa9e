"""Gathering Python objects (generated strings) from every process; a no-op in one process."""
from __future__ import annotations

import torch.distributed as dist


def gather_lists(items: list) -> list:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return items
    gathered: list[list] = [None] * dist.get_world_size()  # type: ignore[list-item]
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in part]

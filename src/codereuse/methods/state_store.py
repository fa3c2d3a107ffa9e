"""Where a prefix cache keeps its per-example states: in memory (as computed) up to a byte budget,
then on disk at a narrower dtype, one file per example.

A disk file is written to a temporary name and renamed into place, so a killed run leaves no
half-written file under a real name; each file carries a header (dtype, shape, CRC32 of the payload)
that a read checks, and a file that fails the check is dropped: its state is computed again.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
import zlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from codereuse.errors import ConfigError

DISK_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
_DTYPE_CODES = {name: code for code, name in enumerate(DISK_DTYPES)}
_HEADER = struct.Struct("<4sB3xIII")  # magic, dtype code, tokens, hidden size, CRC32 of the payload
_MAGIC = b"PFXS"
GB = 1e9


@dataclass(frozen=True)
class CacheBudget:
    """``freeze.cache_memory_gb``, ``freeze.cache_disk_dtype`` and ``freeze.cache_dir``."""

    memory_gb: float = 4.0
    disk_dtype: str = "float16"
    dir: str | None = None  # null: a temporary directory under the run's output directory (or the system's)

    def __post_init__(self) -> None:
        if isinstance(self.memory_gb, bool) or not isinstance(self.memory_gb, (int, float)) or not self.memory_gb >= 0:
            raise ConfigError("freeze.cache_memory_gb", self.memory_gb, hint="a number of GB >= 0")
        if self.disk_dtype not in DISK_DTYPES:
            raise ConfigError("freeze.cache_disk_dtype", self.disk_dtype, sorted(DISK_DTYPES))

    @classmethod
    def of(cls, freeze: Mapping | None) -> "CacheBudget":
        """The budget named by the ``cache_*`` keys of a freeze config (the others are not read)."""
        freeze = freeze or {}
        return cls(**{f.name: freeze[f"cache_{f.name}"] for f in fields(cls) if f"cache_{f.name}" in freeze})

    @property
    def disk_bytes_per_value(self) -> int:
        return DISK_DTYPES[self.disk_dtype].itemsize


class StateStore:
    """Tensors by key: in memory while they fit ``budget.memory_gb``, on disk beyond it."""

    def __init__(self, budget: CacheBudget, run_dir: str | None = None) -> None:
        self.budget, self.run_dir = budget, run_dir
        self.memory: dict[Hashable, torch.Tensor] = {}
        self.memory_bytes = 0
        self.on_disk: set[Hashable] = set()
        self._directory: tempfile.TemporaryDirectory | None = None  # removed when the store goes

    def __len__(self) -> int:
        return len(self.memory) + len(self.on_disk)

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` was stored (a disk file is checked only when :meth:`get` reads it)."""
        return key in self.memory or key in self.on_disk

    @property
    def disk_bytes(self) -> int:
        """Bytes of the state files on disk, headers included."""
        return sum(self.path(key).stat().st_size for key in self.on_disk)

    def get(self, key: Hashable) -> torch.Tensor | None:
        """The stored state (float32 when read from disk), or None: never stored, or its file failed the check."""
        if key in self.memory:
            return self.memory[key]
        if key not in self.on_disk:
            return None
        state = _read(self.path(key), DISK_DTYPES[self.budget.disk_dtype])
        if state is None:
            self.on_disk.discard(key)
        return state

    def put(self, key: Hashable, state: torch.Tensor) -> None:
        size = state.numel() * state.element_size()
        if self.memory_bytes + size <= self.budget.memory_gb * GB:
            self.memory[key], self.memory_bytes = state, self.memory_bytes + size
        elif _write(self.path(key), state.to(DISK_DTYPES[self.budget.disk_dtype])):
            self.on_disk.add(key)

    @property
    def parent(self) -> Path:
        """Where the disk files' temporary directory is made, at the first disk write."""
        return Path(self.budget.dir or self.run_dir or tempfile.gettempdir()).expanduser()

    def path(self, key: Hashable) -> Path:
        if self._directory is None:
            self.parent.mkdir(parents=True, exist_ok=True)
            self._directory = tempfile.TemporaryDirectory(prefix="prefix-cache-", dir=self.parent)
        return Path(self._directory.name) / f"{hashlib.sha1(repr(key).encode()).hexdigest()}.state"

    def free_disk_bytes(self) -> int:
        existing = next(p for p in (self.parent, *self.parent.parents) if p.exists())
        return shutil.disk_usage(existing).free


def _write(path: Path, state: torch.Tensor) -> bool:
    """Write ``state`` under ``path`` atomically; False (nothing stored) when the disk refuses it."""
    payload = state.contiguous().view(torch.uint8).numpy().tobytes()
    header = _HEADER.pack(_MAGIC, _DTYPE_CODES[_dtype_name(state.dtype)], *state.shape, zlib.crc32(payload))
    partial = path.with_suffix(".part")
    try:
        partial.write_bytes(header + payload)
        os.replace(partial, path)
        return True
    except OSError:  # a full disk: the state stays uncached and is computed again when needed
        partial.unlink(missing_ok=True)
        return False


def _read(path: Path, dtype: torch.dtype) -> torch.Tensor | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) >= _HEADER.size:
        magic, code, tokens, hidden, crc = _HEADER.unpack_from(data)
        payload = data[_HEADER.size:]
        if (magic, code, len(payload), zlib.crc32(payload)) == (_MAGIC, _DTYPE_CODES[_dtype_name(dtype)],
                                                                tokens * hidden * dtype.itemsize, crc):
            return torch.frombuffer(bytearray(payload), dtype=dtype).view(tokens, hidden).float()
    path.unlink(missing_ok=True)
    return None


def _dtype_name(dtype: torch.dtype) -> str:
    return next(name for name, known in DISK_DTYPES.items() if known == dtype)

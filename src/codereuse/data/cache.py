"""On-disk cache of harvested function tables and built tasks.

Each entry is a gzipped JSON payload plus a small meta file holding the payload's sha256 and
size. Both are written to a temporary file and moved into place with :func:`os.replace`, payload
first and meta last, so a reader either sees a complete entry or none; an entry whose payload does
not match its meta (truncated, edited, half-copied) is reported in one line, deleted and rebuilt.
JSON rather than pickle: a cache directory may be shared, and loading it must not run code.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """``$CODEREUSE_CACHE``, else ``~/.cache/codereuse``."""
    return Path(os.environ.get("CODEREUSE_CACHE") or Path.home() / ".cache" / "codereuse")


def cache_key(*parts: object) -> str:
    """Stable short hash of JSON-serialisable parts (fingerprint, versions, seed, options...)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Cache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def _paths(self, kind: str, key: str) -> tuple[Path, Path]:
        stem = self.root / f"{kind}-{key}"
        return stem.with_suffix(".json.gz"), stem.with_suffix(".meta.json")

    def contains(self, kind: str, key: str) -> bool:
        """Whether an entry was written (its integrity is checked by :meth:`load`)."""
        return self._paths(kind, key)[1].exists()

    def load(self, kind: str, key: str) -> object | None:
        """The cached object, or None when absent or corrupt (a corrupt entry is removed)."""
        payload_path, meta_path = self._paths(kind, key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            data = payload_path.read_bytes()
            if meta.get("format") != FORMAT_VERSION or len(data) != meta["size"] \
                    or hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise ValueError("checksum mismatch")
            return json.loads(gzip.decompress(data))
        except (OSError, ValueError, KeyError, EOFError) as error:
            log.warning("cache entry %s-%s in %s is corrupt (%s); rebuilding it", kind, key, self.root, error)
            for path in (meta_path, payload_path):
                path.unlink(missing_ok=True)
            return None

    def save(self, kind: str, key: str, obj: object) -> None:
        payload_path, meta_path = self._paths(kind, key)
        self.root.mkdir(parents=True, exist_ok=True)
        # Level 1: the tables compress ~4x at a fraction of level 9's time.
        data = gzip.compress(json.dumps(obj).encode(), compresslevel=1, mtime=0)
        meta = {"format": FORMAT_VERSION, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        self._write(payload_path, data)
        self._write(meta_path, json.dumps(meta).encode())

    def _write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

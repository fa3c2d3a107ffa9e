"""Randomly initialised few-thousand-parameter models for tests: no files, no network.

The tokenizer is byte-level with no merges (every byte is a token), so it needs no training data
and encodes any text, including non-ASCII code, losslessly.
"""
from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from codereuse.errors import ConfigError

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>", "<s>", "<mask>")
PAD, EOS, UNK, BOS, MASK = range(len(SPECIAL_TOKENS))


def byte_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[char] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> $B </s>", special_tokens=[("<s>", BOS), ("</s>", EOS)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<s>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token="<mask>",
    )


def _bert(vocab_size: int, hidden: int = 32, layers: int = 6, heads: int = 2, **extra):
    config = BertConfig(
        vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=2 * hidden, max_position_embeddings=512, pad_token_id=PAD, **extra,
    )
    return BertModel(config, add_pooling_layer=False)


def _t5(vocab_size: int, hidden: int = 32, layers: int = 2, heads: int = 2, **extra):
    config = T5Config(
        vocab_size=vocab_size, d_model=hidden, d_kv=hidden // heads, d_ff=2 * hidden, num_layers=layers,
        num_heads=heads, pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=PAD, **extra,
    )
    return T5ForConditionalGeneration(config)


def _gpt2(vocab_size: int, hidden: int = 32, layers: int = 2, heads: int = 2, **extra):
    config = GPT2Config(
        vocab_size=vocab_size, n_embd=hidden, n_layer=layers, n_head=heads, n_positions=1024,
        pad_token_id=PAD, eos_token_id=EOS, bos_token_id=BOS, **extra,
    )
    return GPT2LMHeadModel(config)


BUILDERS = {"bert": _bert, "t5": _t5, "gpt2": _gpt2}


def build_tiny(tiny: dict) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    """Build ``tiny['arch']`` with the remaining keys as size arguments, seeded by ``tiny['seed']``."""
    options = dict(tiny)
    arch = options.pop("arch")
    if arch not in BUILDERS:
        raise ConfigError("model.tiny.arch", arch, sorted(BUILDERS))
    seed = options.pop("seed", 0)
    tokenizer = byte_tokenizer()
    # a private generator keeps the weights identical whatever the caller's RNG state is
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BUILDERS[arch](len(tokenizer), **options)
    return model, tokenizer

"""A backbone plus the head of a task family, as a plain ``nn.Module`` (no Lightning).

Families and their batches (built by ``codereuse.data.collate``):
- classification: ``code_ids/code_mask/labels``
- pair:           ``code1_*``, ``code2_*``, ``labels`` (both sides through the same encoder)
- retrieval:      ``query_*``, ``code_*`` (in-batch contrastive loss; scores for MRR)
- seq2seq:        ``source_*`` and ``labels`` (target ids, -100 padding); decoder-only backbones get
                  ``lm_*`` (prompt + target) and ``prompt_*`` (left-padded, for generation)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codereuse.methods.decoder import FreshDecoder
from codereuse.methods.heads import ClassificationHead, identity_projection, pair_features
from codereuse.models.pooling import pool
from codereuse.models.spec import BackboneSpec

RETRIEVAL_SCALE = 20.0  # inverse temperature of the in-batch softmax (sentence-transformers' default)


@dataclass
class TaskOutput:
    loss: torch.Tensor
    logits: torch.Tensor | None = None


class TaskModel(nn.Module):
    def __init__(self, backbone: nn.Module, tokenizer, spec: BackboneSpec, family: str,
                 num_labels: int | None = None, dropout: float = 0.1, decoder_layers: int = 2,
                 max_target_length: int = 64, through_wrapper: bool = False, head_hidden: int | None = None) -> None:
        super().__init__()
        self.backbone, self.spec, self.family = backbone, spec, family
        self.tokenizer = tokenizer
        self.max_target_length = max_target_length
        # peft's prompt/prefix methods act in the wrapper's forward, so we must call the whole model
        self.through_wrapper = through_wrapper
        self.prefix_cache = None  # a methods.prefix_cache.PrefixCache when freeze.cache=true
        self.input_fusion: nn.Module | None = None  # a strategy's hook on the input embeddings (the transducer's input fusion)
        self.output_fusion: nn.Module | None = None  # ... and on the last-layer token states, before pooling
        hidden = backbone.config.hidden_size
        head_hidden = head_hidden or hidden  # task.head_hidden: the pair head at H is 4H x H (2.6% of MiniLM)
        if family == "classification":
            self.head = ClassificationHead(hidden, head_hidden, num_labels, dropout)
        elif family == "pair":
            self.head = ClassificationHead(4 * hidden, head_hidden, num_labels or 2, dropout)
        elif family == "retrieval":
            self.head = identity_projection(hidden)
        elif family == "seq2seq" and spec.family == "encoder":
            heads = backbone.config.num_attention_heads
            self.decoder = FreshDecoder(backbone.get_input_embeddings(), heads, decoder_layers, max_target_length + 2, dropout)

    def head_modules(self) -> list[nn.Module]:
        """The task head (and a fresh decoder); parameters shared with the backbone are not its own."""
        return [m for m in (getattr(self, "head", None), getattr(self, "decoder", None)) if m is not None]

    # --- encoding -------------------------------------------------------------------------------
    def input_embeddings(self, batch: dict, field: str) -> torch.Tensor:
        """What the backbone reads for ``<field>_ids``: its own word embeddings, passed through the
        strategy's ``input_fusion(embeds, batch, field)`` when one is set (the transducer's)."""
        embeds = self.backbone.get_input_embeddings()(batch[f"{field}_ids"])
        if self.input_fusion is not None:
            embeds = self.input_fusion(embeds, batch, field)
        return embeds

    def hidden_states(self, ids: torch.Tensor, mask: torch.Tensor, keys: list | None = None,
                      embeds: torch.Tensor | None = None) -> torch.Tensor:
        """Last-layer token states (B, T', H); T' > T when a prompt was prepended.

        ``embeds`` (default: the word embeddings of ``ids``) enter the backbone as ``inputs_embeds``;
        ``keys`` identify the examples (split, field, index) so a prefix cache can replay them.
        """
        if self.prefix_cache is not None and keys is not None:
            return self.prefix_cache.hidden_states(ids, mask, keys)
        if embeds is None:
            embeds = self.backbone.get_input_embeddings()(ids)
        if self.spec.family == "encoder":
            return self.backbone(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        if self.spec.family == "encoder-decoder":
            if not self.through_wrapper:
                return self.backbone.get_encoder()(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
            start = torch.full((ids.shape[0], 1), self.backbone.config.decoder_start_token_id, device=ids.device)
            return self.backbone(inputs_embeds=embeds, attention_mask=mask, decoder_input_ids=start).encoder_last_hidden_state
        return self.backbone(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True).hidden_states[-1]

    def field_states(self, batch: dict, field: str) -> torch.Tensor:
        """``hidden_states`` of one text field of a batch, through the input- and output-state hooks."""
        keys = _keys(batch, field)
        cached = self.prefix_cache is not None and keys is not None
        embeds = None if cached else self.input_embeddings(batch, field)
        states = self.hidden_states(batch[f"{field}_ids"], batch[f"{field}_mask"], keys, embeds)
        if self.output_fusion is not None:
            states = self.output_fusion(states, batch, field)
        return states

    def embed(self, batch: dict, field: str) -> torch.Tensor:
        return pool(self.field_states(batch, field), batch[f"{field}_mask"], self.spec.pooling)

    # --- forward per family ---------------------------------------------------------------------
    def forward(self, batch: dict) -> TaskOutput:
        if self.family == "classification":
            logits = self.head(self.embed(batch, "code"))
            return TaskOutput(F.cross_entropy(logits, batch["labels"]), logits)
        if self.family == "pair":
            first, second = self.embed(batch, "code1"), self.embed(batch, "code2")
            logits = self.head(pair_features(first, second))
            return TaskOutput(F.cross_entropy(logits, batch["labels"]), logits)
        if self.family == "retrieval":
            scores = self.retrieval_scores(self.embed_queries(batch), self.embed_codes(batch))
            targets = torch.arange(scores.shape[0], device=scores.device)
            return TaskOutput(F.cross_entropy(scores, targets), scores)
        return TaskOutput(self.seq2seq_loss(batch))

    def embed_queries(self, batch: dict) -> torch.Tensor:
        return F.normalize(self.head(self.embed(batch, "query")), dim=-1)

    def embed_codes(self, batch: dict) -> torch.Tensor:
        return F.normalize(self.head(self.embed(batch, "code")), dim=-1)

    @staticmethod
    def retrieval_scores(queries: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return RETRIEVAL_SCALE * queries @ codes.T

    def seq2seq_loss(self, batch: dict) -> torch.Tensor:
        if self.spec.family == "encoder-decoder":
            return self.backbone(inputs_embeds=self.input_embeddings(batch, "source"), attention_mask=batch["source_mask"],
                                 labels=batch["labels"]).loss
        if self.spec.family == "decoder":
            return self.backbone(inputs_embeds=self.input_embeddings(batch, "lm"), attention_mask=batch["lm_mask"],
                                 labels=batch["lm_labels"]).loss
        memory = self.field_states(batch, "source")
        memory_mask = _widen(batch["source_mask"], memory.shape[1])
        labels = batch["labels"]
        decoder_in = labels[:, :-1].masked_fill(labels[:, :-1] == -100, self.tokenizer.pad_token_id)
        logits = self.decoder(decoder_in, memory, memory_mask)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)

    # --- generation -----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, batch: dict, num_beams: int = 1) -> list[str]:
        tokenizer, limit = self.tokenizer, self.max_target_length
        if self.spec.family == "encoder-decoder":
            ids = self.backbone.generate(**self._generation_inputs(batch, "source"), attention_mask=batch["source_mask"],
                                         max_new_tokens=limit, num_beams=num_beams)
        elif self.spec.family == "decoder":
            prompt = batch["prompt_ids"]
            ids = self.backbone.generate(**self._generation_inputs(batch, "prompt"), attention_mask=batch["prompt_mask"], max_new_tokens=limit,
                                         num_beams=num_beams, pad_token_id=tokenizer.pad_token_id)[:, prompt.shape[1]:]
        else:
            memory = self.field_states(batch, "source")
            memory_mask = _widen(batch["source_mask"], memory.shape[1])
            ids = self.decoder.generate(memory, memory_mask, _bos(tokenizer), _eos(tokenizer), limit, num_beams=num_beams)
        texts = tokenizer.batch_decode(_truncate_eos(ids, _eos(tokenizer)), skip_special_tokens=True)
        return [text.strip() for text in texts]

    def _generation_inputs(self, batch: dict, field: str) -> dict:
        """Token ids, as peft's prompt/prefix wrappers need them; with an input fusion, the fused
        embeddings too (a decoder-only model reads them for the prompt and still returns its ids)."""
        inputs = {"input_ids": batch[f"{field}_ids"]}
        if self.input_fusion is not None:
            inputs["inputs_embeds"] = self.input_embeddings(batch, field)
            if self.spec.family == "encoder-decoder":
                del inputs["input_ids"]
        return inputs


def _keys(batch: dict, field: str) -> list | None:
    if "index" not in batch:
        return None
    return [(batch["split"], field, index) for index in batch["index"].tolist()]


def _widen(mask: torch.Tensor, length: int) -> torch.Tensor:
    if mask.shape[1] == length:
        return mask
    return torch.cat([mask.new_ones(mask.shape[0], length - mask.shape[1]), mask], dim=1)


def _bos(tokenizer) -> int:
    return tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id


def _eos(tokenizer) -> int:
    return tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id


def _truncate_eos(ids: torch.Tensor, eos: int) -> list[list[int]]:
    return [row[: row.index(eos)] if eos in row else row for row in ids.tolist()]

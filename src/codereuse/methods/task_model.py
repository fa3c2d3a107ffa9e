"""A backbone plus the head of a task family, as a plain ``nn.Module`` (no Lightning).

Batches (built by ``codereuse.data.collate``) hold ``<field>_ids/<field>_mask`` per input of the
family (``codereuse.families``), and:
- label families (classification, pair): ``labels``; a paired family's two inputs go through the
  same encoder and the head reads ``[u, v, |u - v|, u * v]``
- ranking (retrieval): nothing more (in-batch contrastive loss; scores for MRR)
- text (seq2seq): ``labels`` (target ids, -100 padding); decoder-only backbones get ``lm_*``
  (prompt + target) and ``prompt_*`` (left-padded, for generation)
The head, loss and metrics of each output kind are in :mod:`codereuse.methods.outputs`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codereuse.methods.heads import pair_features
from codereuse.methods.outputs import TaskOutput, handler
from codereuse.methods.prefix_cache import state_key
from codereuse.methods.settings import TaskSettings
from codereuse.models.pooling import pool
from codereuse.models.spec import BackboneSpec

__all__ = ["RETRIEVAL_SCALE", "TaskModel", "TaskOutput"]

RETRIEVAL_SCALE = 20.0  # inverse temperature of the in-batch softmax (sentence-transformers' default)


class TaskModel(nn.Module):
    def __init__(self, backbone: nn.Module, tokenizer, spec: BackboneSpec, task: TaskSettings,
                 through_wrapper: bool = False) -> None:
        super().__init__()
        self.backbone, self.spec, self.family = backbone, spec, task.task_family
        self.tokenizer = tokenizer
        self.max_target_length = task.max_target_length
        # peft's prompt/prefix methods act in the wrapper's forward, so we must call the whole model
        self.through_wrapper = through_wrapper
        self.prefix_cache = None  # a methods.prefix_cache.PrefixCache when freeze.cache=true
        self.input_fusion: nn.Module | None = None  # a strategy's hook on the input embeddings (the transducer's input fusion)
        self.output_fusion: nn.Module | None = None  # ... and on the last-layer token states, before pooling
        self.outputs = handler(self.family)  # the family's head, loss and metrics
        self.outputs.build(self, task)

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
        ``keys`` identify the examples (``prefix_cache.state_key``) so a prefix cache can replay them.
        """
        if self.prefix_cache is not None and keys is not None:
            return self.prefix_cache.hidden_states(ids, mask, keys)
        if embeds is None:
            embeds = self.backbone.get_input_embeddings()(ids)
        if self.spec.architecture == "encoder":
            return self.backbone(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        if self.spec.architecture == "encoder-decoder":
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
        return self.outputs.forward(self, batch)

    def label_features(self, batch: dict) -> torch.Tensor:
        """What a label head reads: the pooled input, or ``[u, v, |u - v|, u * v]`` of a pair."""
        pooled = [self.embed(batch, field) for field in self.family.inputs]
        return pair_features(*pooled) if self.family.paired else pooled[0]

    def embed_queries(self, batch: dict) -> torch.Tensor:
        """Normalised embeddings of a ranking family's first input (retrieval's queries)."""
        return F.normalize(self.head(self.embed(batch, self.family.inputs[0])), dim=-1)

    def embed_codes(self, batch: dict) -> torch.Tensor:
        """... and of its second (retrieval's code)."""
        return F.normalize(self.head(self.embed(batch, self.family.inputs[1])), dim=-1)

    @staticmethod
    def retrieval_scores(queries: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return RETRIEVAL_SCALE * queries @ codes.T

    def seq2seq_loss(self, batch: dict) -> torch.Tensor:
        (source,) = self.family.inputs
        if self.spec.architecture == "encoder-decoder":
            return self.backbone(inputs_embeds=self.input_embeddings(batch, source), attention_mask=batch[f"{source}_mask"],
                                 labels=batch["labels"]).loss
        if self.spec.architecture == "decoder":
            return self.backbone(inputs_embeds=self.input_embeddings(batch, "lm"), attention_mask=batch["lm_mask"],
                                 labels=batch["lm_labels"]).loss
        memory = self.field_states(batch, source)
        memory_mask = _widen(batch[f"{source}_mask"], memory.shape[1])
        labels = batch["labels"]
        decoder_in = labels[:, :-1].masked_fill(labels[:, :-1] == -100, self.tokenizer.pad_token_id)
        logits = self.decoder(decoder_in, memory, memory_mask)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)

    # --- generation -----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, batch: dict, num_beams: int = 1) -> list[str]:
        tokenizer, limit = self.tokenizer, self.max_target_length
        (source,) = self.family.inputs
        if self.spec.architecture == "encoder-decoder":
            ids = self.backbone.generate(**self._generation_inputs(batch, source), attention_mask=batch[f"{source}_mask"],
                                         max_new_tokens=limit, num_beams=num_beams)
        elif self.spec.architecture == "decoder":
            prompt = batch["prompt_ids"]
            ids = self.backbone.generate(**self._generation_inputs(batch, "prompt"), attention_mask=batch["prompt_mask"], max_new_tokens=limit,
                                         num_beams=num_beams, pad_token_id=tokenizer.pad_token_id)[:, prompt.shape[1]:]
        else:
            memory = self.field_states(batch, source)
            memory_mask = _widen(batch[f"{source}_mask"], memory.shape[1])
            ids = self.decoder.generate(memory, memory_mask, _bos(tokenizer), _eos(tokenizer), limit, num_beams=num_beams)
        texts = tokenizer.batch_decode(_truncate_eos(ids, _eos(tokenizer)), skip_special_tokens=True)
        return [text.strip() for text in texts]

    def _generation_inputs(self, batch: dict, field: str) -> dict:
        """Token ids, as peft's prompt/prefix wrappers need them; with an input fusion, the fused
        embeddings too (a decoder-only model reads them for the prompt and still returns its ids)."""
        inputs = {"input_ids": batch[f"{field}_ids"]}
        if self.input_fusion is not None:
            inputs["inputs_embeds"] = self.input_embeddings(batch, field)
            if self.spec.architecture == "encoder-decoder":
                del inputs["input_ids"]
        return inputs


def _keys(batch: dict, field: str) -> list | None:
    """The prefix-cache keys of a batch's ``field``; None off the data module's rows (no ``index``):
    one-off passes (teacher soft labels, evaluation) are not worth storing states for."""
    if "index" not in batch:
        return None
    indices = batch["index"].tolist()
    sequences = batch.get(f"{field}_key") or [None] * len(indices)
    return [state_key(batch["split"], field, index, sequence) for index, sequence in zip(indices, sequences)]


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

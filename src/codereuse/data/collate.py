"""Tokenise task records once, and pad them into batches (dynamic padding, right-padded).

Field names follow ``methods/task_model.py``: ``<field>_ids`` / ``<field>_mask`` per text field,
``labels`` for classes or target ids (-100 padding), ``lm_*``/``prompt_*`` for decoder-only seq2seq.
On request (``offsets=True``, a strategy that aligns tokens to source spans) ``<field>_offsets`` hold
each token's (start, end) character offsets, (0, 0) for special tokens and (-1, -1) for tokens that
are not from the field's text (padding, a decoder-only model's answer). ``<field>_graph`` rows
(``torch_geometric`` ``Data``) are batched with ``Batch.from_data_list``, never padded.

Each distinct input text is tokenised once (``data.functions``): rows holding the same function share
its lists, and ``<field>_key`` (a hash of its token ids, passed through as a list) names its sequence
for the frozen-prefix cache.
"""
from __future__ import annotations

import torch

from codereuse.data.functions import FunctionTable, sequence_key
from codereuse.errors import ConfigError
from codereuse.families import TaskFamily, family


def encode_records(records: list[dict], tokenizer, task_family: str, architecture: str,
                   max_length: int, max_target_length: int, max_query_length: int = 64, offsets: bool = False) -> list[dict]:
    """Token ids per record (of the family's ``inputs``, and its ``target``); a decoder-only
    ``architecture`` on a generating family gets prompt + target sequences."""
    if not records:
        return []
    if offsets and not getattr(tokenizer, "is_fast", False):
        raise ConfigError("model", type(tokenizer).__name__, hint="token offsets need a fast (Rust) tokenizer")
    spec = family(task_family)
    if spec.generates and architecture == "decoder":
        return _encode_prompted(records, tokenizer, spec, max_length, max_target_length, offsets)
    encoded: dict[str, list] = {}
    for limit, fields in _inputs_by_limit(spec, max_length, max_query_length).items():
        encoded.update(_encode_functions(records, fields, tokenizer, limit, offsets))
    if spec.generates:
        targets = tokenizer([r[spec.target] for r in records], truncation=True, max_length=max_target_length)["input_ids"]
        if architecture == "encoder":  # the fresh decoder starts from the backbone's <s>/[CLS]
            bos = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
            targets = [ids if ids[:1] == [bos] else [bos] + ids[: max_target_length - 1] for ids in targets]
        encoded["labels"] = targets
    rows = [{key: values[i] for key, values in encoded.items()} for i in range(len(records))]
    for row, record in zip(rows, records):
        if "label" in record:
            row["labels"] = int(record["label"])
        if spec.generates:
            row["target_text"] = record[spec.target]
    return rows


def _inputs_by_limit(spec: TaskFamily, max_length: int, max_query_length: int) -> dict[int, list[str]]:
    """The family's inputs grouped by token limit: fields alike (a pair's two sides) share one table."""
    groups: dict[int, list[str]] = {}
    for field in spec.inputs:
        groups.setdefault(spec.length_limit(field, max_length, max_query_length), []).append(field)
    return groups


def _encode_functions(records: list[dict], fields: list[str], tokenizer, limit: int, offsets: bool) -> dict[str, list]:
    """``<field>_ids`` / ``_key`` (/ ``_offsets``) of ``fields``, each distinct text tokenised once: the
    rows holding a text share its lists (one function in many pairs is one set of objects)."""
    table = FunctionTable(record[field] for field in fields for record in records)
    tokens = tokenizer(table.texts, truncation=True, max_length=limit, return_offsets_mapping=offsets)
    columns = {"ids": tokens["input_ids"], "key": [sequence_key(ids) for ids in tokens["input_ids"]]}
    if offsets:
        columns["offsets"] = [[list(pair) for pair in row] for row in tokens["offset_mapping"]]
    encoded = {}
    for field in fields:
        functions = table.ids(record[field] for record in records)
        encoded.update({f"{field}_{name}": [values[i] for i in functions] for name, values in columns.items()})
    return encoded


def _encode_prompted(records: list[dict], tokenizer, spec: TaskFamily, max_length: int, max_target_length: int,
                     offsets: bool = False) -> list[dict]:
    eos = tokenizer.eos_token_id
    (field,) = spec.inputs  # the prompt
    encoded = tokenizer([r[field] for r in records], add_special_tokens=False, return_offsets_mapping=offsets)
    targets = tokenizer([r[spec.target] for r in records], add_special_tokens=False)["input_ids"]
    rows = []
    for i, (record, source, target) in enumerate(zip(records, encoded["input_ids"], targets)):
        prompt = source[: max_length - 1] + [eos]
        answer = target[: max_target_length - 1] + [eos]
        row = {"prompt_ids": prompt, "lm_ids": prompt + answer,
               "lm_labels": [-100] * len(prompt) + answer, "target_text": record[spec.target]}
        if offsets:  # the answer is not source text: nothing aligns to it
            row["prompt_offsets"] = [list(pair) for pair in encoded["offset_mapping"][i][: max_length - 1]] + [[0, 0]]
            row["lm_offsets"] = row["prompt_offsets"] + [[-1, -1]] * len(answer)
        rows.append(row)
    return rows


class Collator:
    """Pads a list of encoded rows; ``split`` + each row's ``index`` identify examples (prefix cache)."""

    def __init__(self, pad_id: int, split: str = "train") -> None:
        self.pad_id, self.split = pad_id, split

    def __call__(self, rows: list[dict]) -> dict:
        batch: dict = {"split": self.split}
        for key in rows[0]:
            values = [row[key] for row in rows]
            if key == "target_text":
                batch[key] = values
            elif key.endswith("_graph"):
                from torch_geometric.data import Batch  # only strategies that use graphs pay for the import

                batch[key] = Batch.from_data_list(values)
            elif key.endswith("_key"):
                batch[key] = values
            elif key.endswith("_offsets"):
                batch[key] = _pad_pairs(values, left=key == "prompt_offsets")
            elif key in ("index", "labels") and isinstance(values[0], int):
                batch[key] = torch.tensor(values)
            elif key in ("labels", "lm_labels"):
                batch[key] = _pad(values, -100)
            else:
                name = key.removesuffix("_ids")
                left = key == "prompt_ids"  # generation continues from the right end
                batch[key] = _pad(values, self.pad_id, left)
                batch[f"{name}_mask"] = _pad([[1] * len(v) for v in values], 0, left)
        return batch


def _pad_pairs(sequences: list[list[list[int]]], left: bool = False) -> torch.Tensor:
    """(B, T, 2) character offsets, -1 where there is no token."""
    width = max(len(s) for s in sequences)
    out = torch.full((len(sequences), width, 2), -1, dtype=torch.long)
    for i, sequence in enumerate(sequences):
        if sequence:
            start = width - len(sequence) if left else 0
            out[i, start : start + len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return out


def _pad(sequences: list[list[int]], value: int, left: bool = False) -> torch.Tensor:
    width = max(len(s) for s in sequences)
    out = torch.full((len(sequences), width), value, dtype=torch.long)
    for i, sequence in enumerate(sequences):
        if sequence:
            if left:
                out[i, width - len(sequence):] = torch.tensor(sequence)
            else:
                out[i, : len(sequence)] = torch.tensor(sequence)
    return out

"""The LightningDataModule: a built task, tokenised once, served in seeded order."""
from __future__ import annotations

import random

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler

from codereuse.data.collate import Collator, encode_records
from codereuse.data.types import TaskData
from codereuse.families import family


class EpochSeededSampler(DistributedSampler):
    """Shuffles with a permutation fixed by (seed, epoch): a resumed run sees the same order.

    Under DDP, rank r of n takes every n-th index of that same permutation, so a global batch of
    n x batch_size holds exactly the examples one process sees with batch size n x batch_size. (As a
    ``DistributedSampler`` it is not wrapped by Lightning in a second, differently shuffled one.)
    """

    def __init__(self, size: int, seed: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.size, self.seed, self.epoch = size, seed, 0
        self.num_replicas, self.rank = num_replicas, rank
        self.num_samples = -(-size // num_replicas)  # every rank runs as many batches, or DDP hangs

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at the start of every epoch
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 10_007 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        order += order[: self.num_samples * self.num_replicas - self.size]  # pad as DistributedSampler does
        return iter(order[self.rank :: self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples


class CodeDataModule(pl.LightningDataModule):
    def __init__(self, task: TaskData, tokenizer, architecture: str, max_length: int = 256,
                 max_target_length: int = 64, max_query_length: int = 64, batch_size: int = 16,
                 eval_batch_size: int | None = None, num_workers: int = 0, seed: int = 0,
                 max_train_examples: int | None = None, max_eval_examples: int | None = None, row_fields=None,
                 subset_seed: int | None = None) -> None:
        super().__init__()
        # architecture: the backbone's (encoder | encoder-decoder | decoder), which decides the seq2seq rows
        self.task, self.tokenizer, self.architecture = task, tokenizer, architecture
        self.lengths = {"max_length": max_length, "max_target_length": max_target_length, "max_query_length": max_query_length}
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.num_workers, self.seed = num_workers, seed
        # the example subsets belong to the data (data.seed), so every training seed sees the same ones
        self.subset_seed = seed if subset_seed is None else subset_seed
        self.limits = {"train": max_train_examples, "valid": max_eval_examples, "test": max_eval_examples}
        self.encoded: dict[str, list[dict]] = {}
        # a strategy's extra per-row fields: row_fields(split, records, rows) adds keys to the encoded
        # rows (e.g. <field>_graph); with row_fields.needs_offsets the rows carry token offsets too
        self.row_fields = row_fields

    def setup(self, stage: str | None = None) -> None:
        if self.encoded:
            return
        for split in self.task.splits:
            records = self.records(split)
            offsets = bool(getattr(self.row_fields, "needs_offsets", False))
            rows = encode_records(records, self.tokenizer, self.task.family, self.architecture, **self.lengths, offsets=offsets)
            for index, row in enumerate(rows):
                row["index"] = index
            if self.row_fields is not None:
                self.row_fields(split, records, rows)
            self.encoded[split] = rows

    def records(self, split: str) -> list[dict]:
        """The records of ``split`` that become its rows (row ``i`` is record ``i``): the seeded
        ``max_*_examples`` subset, in the split's order. Needs no tokenizer and no ``setup``."""
        return subsample(self.task.splits[split], self.limits.get(split), self.subset_seed)

    def test_records(self, trainer: pl.Trainer | None = None) -> list[dict]:
        """The test records a model is scored on: :meth:`records` of ``test``, cut to the batches
        ``trainer`` (default: the trainer this data module is attached to) ran in its last test
        (``trainer.limit_test_batches``); the whole subset before any test has run."""
        records = self.records("test")
        trainer = trainer if trainer is not None else self.trainer
        batches = trainer.num_test_batches[0] if trainer is not None and trainer.num_test_batches else float("inf")
        if batches != float("inf"):
            records = records[: int(batches) * self.eval_batch_size]
        return records

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        rows = self.encoded[split]
        replicas, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        sampler = EpochSeededSampler(len(rows), self.seed, replicas, rank) if shuffle else None
        # a contrastive family (in-batch negatives) drops a last partial training batch, unless it is the only one
        drop_last = shuffle and family(self.task.family).in_batch_negatives and len(rows) > batch_size
        return DataLoader(rows, batch_size=batch_size, sampler=sampler, collate_fn=Collator(self.tokenizer.pad_token_id, split),
                          num_workers=self.num_workers, drop_last=drop_last)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)


def subsample(records: list[dict], limit: int | None, seed: int) -> list[dict]:
    """A seeded random subset (order kept), so a smaller budget still sees every kind of example."""
    if limit is None or limit >= len(records):
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]

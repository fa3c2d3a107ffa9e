"""The student's own sequence length as a function of its BPE vocabulary: a smaller vocabulary cuts
code into more tokens, so FLOPs and latency measured at the teacher's length would flatter it.

A byte-level BPE is trained at a few vocabulary sizes on a sample of the transfer set, the sample's
mean tokenised length measured with each (as the student reads it: pairs cross-encoded, truncated
to its maximum), and the mean length of any other size interpolated linearly in log(vocabulary).
"""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass

import numpy as np

from codereuse.compression import student as student_lib
from codereuse.compression.tokenizer import train_bpe

SAMPLE = 2000  # records the BPEs learn from and are measured on: minutes become seconds, the mean stays


@dataclass(frozen=True)
class LengthModel:
    sizes: tuple[int, ...]  # vocabulary sizes a BPE was trained at, ascending
    lengths: tuple[float, ...]  # the sample's mean tokenised length at each

    @classmethod
    def fit(cls, records: list[dict], family: str, max_length: int, sizes: tuple[int, ...], seed: int = 0) -> LengthModel:
        sample = random.Random(seed).sample(records, min(SAMPLE, len(records)))
        first, second = student_lib.text_inputs(family, sample)
        corpus = first + (second or [])
        measured = []
        for size in sorted(set(sizes)):
            tokenizer = train_bpe(corpus, size)
            measured.append(mean_length(tokenizer, first, second, max_length))
        return cls(tuple(sorted(set(sizes))), tuple(measured))

    def __call__(self, vocab: int) -> int:
        """The mean length at ``vocab`` (the end points' outside the fitted range)."""
        if len(self.sizes) == 1:
            return round(self.lengths[0])
        return round(float(np.interp(math.log(vocab), [math.log(s) for s in self.sizes], self.lengths)))


def mean_length(tokenizer, first: list[str], second: list[str] | None, max_length: int) -> float:
    """Mean tokens per row as the student reads it (``<s> A </s> B </s>`` for pairs), truncated."""
    encoded = tokenizer(first, second, truncation=True, max_length=max_length)["input_ids"] if second is not None \
        else tokenizer(first, truncation=True, max_length=max_length)["input_ids"]
    return statistics.fmean(len(ids) for ids in encoded)

"""The probe sample: a seeded, class-balanced sample of a task's training split that every
candidate's frozen features are extracted on (selection must never look at the test split)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from codereuse.data.functions import FunctionTable
from codereuse.data.types import TaskData
from codereuse.errors import ConfigError
from codereuse.families import family, label_families


@dataclass
class ProbeSample:
    family: str
    texts: list[str]  # unique texts, each extracted once
    index: np.ndarray  # (examples, fields): positions into ``texts``
    labels: np.ndarray  # (examples,)

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(json.dumps(self.texts).encode())
        digest.update(self.index.tobytes())
        return digest.hexdigest()[:24]


def probe_sample(task: TaskData, size: int, seed: int) -> ProbeSample:
    """Up to ``size`` training examples, as equal a number per class as the split allows."""
    spec = family(task.family)
    if not spec.predicts_labels:
        raise ConfigError("task", task.name, [f"a {' or '.join(label_families())} task (this one is {task.family})"],
                          "transferability scorers need class labels")
    if size < 4:
        raise ConfigError("probe.size", size, "an integer >= 4")
    rows = task.splits["train"]
    labels = np.array([int(r["label"]) for r in rows])
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    chosen: list[int] = []
    # smallest class first: a class smaller than its share gives the rest to the larger ones
    for remaining, members in zip(range(len(by_class), 0, -1), sorted(by_class, key=len)):
        chosen.extend(members[:(size - len(chosen)) // remaining].tolist())
    chosen.sort()
    functions = FunctionTable()
    index = [[functions.add(rows[i][name]) for name in spec.inputs] for i in chosen]
    return ProbeSample(task.family, functions.texts, np.array(index, dtype=np.int64), labels[chosen])


def subsample(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of a class-stratified subsample without replacement (bootstrap over probe samples:
    drawing with replacement would put copies of a point among its own neighbours)."""
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        picked.append(rng.choice(members, size=max(2, int(round(fraction * len(members)))), replace=False))
    return np.sort(np.concatenate(picked))

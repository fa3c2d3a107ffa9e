"""Dataset cards: one screen of facts about a task, with trivial floors every model result should be
read against.

Floors are scored on the *evaluated* test records, anything they fit is fitted on train:
majority-class accuracy (classification); copy-the-input smoothed BLEU (seq2seq); token-overlap
ranking MRR, each query against up to 999 distractors as in CodeSearchNet (retrieval). Pair tasks
get three shallow learners, each a shortcut a model could take instead of reading the code:
a token-Jaccard threshold, logistic regression on bags of tokens of both sides (shared and
one-sided tokens), and gradient boosting on the layout of both sides and its differences.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from .harvest import FILE_REASONS
from .types import SPLITS, TaskData

TEXT_FIELDS = {"classification": ("code",), "pair": ("code1", "code2"),
               "seq2seq": ("source", "target"), "retrieval": ("query", "code")}
RETRIEVAL_POOL = 1000
MAX_LABEL_ROWS = 16  # one screen: the largest classes of a 104-class POJ-104 card
# Sub-words: snake_case and camelCase split, acronyms kept, so "get_file_name" meets "file name".
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def floors(task: TaskData, test_records: list[dict] | None = None) -> dict[str, float]:
    """Named trivial-floor scores on ``test_records`` (default: the test split), fitted on train."""
    test = task.splits["test"] if test_records is None else test_records
    train = task.splits["train"]
    if task.family == "classification":
        majority = _majority(train)
        return {"majority_accuracy": _mean(r["label"] == majority for r in test)}
    if task.family == "pair":
        from .pair_floors import pair_floors  # scikit-learn: only needed here
        return pair_floors(train, test)
    if task.family == "seq2seq":
        from ..metrics.text import smoothed_bleu  # sacrebleu: only needed here
        return {"copy_bleu": smoothed_bleu([r["source"] for r in test], [r["target"] for r in test])}
    return {"overlap_mrr": _overlap_mrr(test)}


def floor(task: TaskData, test_records: list[dict] | None = None) -> tuple[str, float]:
    """The best (highest) of :func:`floors`: the score a model has to beat."""
    return max(floors(task, test_records).items(), key=lambda item: item[1])


def floor_predictions(task: TaskData, name: str, test_records: list[dict]) -> list[int] | None:
    """The labels floor ``name`` predicts for ``test_records`` (label-predicting floors only)."""
    if task.family == "classification" and name == "majority_accuracy":
        return [_majority(task.splits["train"])] * len(test_records)
    if task.family == "pair":
        from .pair_floors import pair_floor_predictions
        return pair_floor_predictions(task.splits["train"], test_records, names=(name,))[name].tolist()
    return None


def _majority(train: list[dict]) -> int:
    return Counter(r["label"] for r in train).most_common(1)[0][0]


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _overlap_mrr(records: list[dict]) -> float:
    import torch  # heavy; only the retrieval baseline needs it

    from ..metrics.retrieval import mean_reciprocal_rank

    total = 0.0
    for start in range(0, len(records), RETRIEVAL_POOL):
        chunk = records[start:start + RETRIEVAL_POOL]
        queries, codes = [words(r["query"]) for r in chunk], [words(r["code"]) for r in chunk]
        scores = torch.tensor([[jaccard(q, c) for c in codes] for q in queries])
        total += mean_reciprocal_rank(scores) * len(chunk)
    return total / len(records) if records else 0.0


def format_card(task: TaskData) -> str:
    """Plain-text card: source, split sizes, label balance, kinds, lengths, skips, floors."""
    counts = task.counts()
    lines = [f"== {task.name} [{task.family}] ==",
             f"source    {task.source or '(not recorded)'}",
             "splits    " + " | ".join(f"{s} {counts[s]:,}" for s in SPLITS) + f" | total {sum(counts.values()):,}"]
    if task.label_names:
        lines.append(f"labels    {'':<18}" + "".join(f"{s:>8}" for s in SPLITS))
        shares = {s: Counter(r["label"] for r in task.splits[s]) for s in SPLITS}
        shown = sorted(i for i, _ in shares["train"].most_common(MAX_LABEL_ROWS)) \
            if len(task.label_names) > MAX_LABEL_ROWS else range(len(task.label_names))
        for i in shown:
            cells = "".join(f"{100 * shares[s][i] / max(1, counts[s]):7.1f}%" for s in SPLITS)
            lines.append(f"          {task.label_names[i][:18]:<18}{cells}")
        if len(shown) < len(task.label_names):
            lines.append(f"          ... {len(task.label_names) - len(shown)} smaller classes not shown")
    kinds = Counter(r["kind"] for s in SPLITS for r in task.splits[s] if "kind" in r)
    if kinds:
        total = sum(kinds.values())
        lines.append("kinds     " + ", ".join(f"{k} {100 * n / total:.1f}%" for k, n in kinds.most_common()))
    for field in TEXT_FIELDS[task.family]:
        texts = [r[field] for s in SPLITS for r in task.splits[s]]
        lines.append(f"length    {field:<7} chars {_percentiles([len(t) for t in texts])}"
                     f"   tokens {_percentiles([len(t.split()) for t in texts])}  (p50/p90/p99)")
    files = ", ".join(f"{k} {v}" for k, v in sorted(task.skipped.items()) if k in FILE_REASONS) or "none"
    other = ", ".join(f"{k} {v}" for k, v in sorted(task.skipped.items()) if k not in FILE_REASONS)
    lines.append(f"skipped   files: {files}" + (f"; other: {other}" if other else ""))
    lines.extend(f"warning   {text}" for text in task.notes)  # e.g. a split under half its target size
    scores = floors(task)
    note = "test split, fitted on train" if task.family in ("pair", "classification") else "test split"
    lines.append("baseline  " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()) + f"  ({note})")
    return "\n".join(lines)


def _percentiles(values: list[int]) -> str:
    if not values:
        return "-"
    return "/".join(f"{int(v):,}" for v in np.percentile(values, [50, 90, 99]))

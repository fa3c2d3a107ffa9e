"""Dataset cards: one screen of facts about a task (source, splits, labels, kinds, lengths, skips)
with the floors every model result is read against (:mod:`.floors`)."""
from __future__ import annotations

from collections import Counter

import numpy as np

from codereuse.data.harvest import FILE_REASONS
from codereuse.data.types import SPLITS, TaskData
from codereuse.families import TaskFamily, family

from .floors import FLOORS, floors

MAX_LABEL_ROWS = 16  # one screen: the largest classes of a 104-class POJ-104 card


def format_card(task: TaskData) -> str:
    """Plain-text card: source, split sizes, label balance, kinds, lengths, skips, floors."""
    counts, spec = task.counts(), family(task.family)
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
    for field in spec.described_fields:
        texts = [r[field] for s in SPLITS for r in task.splits[s]]
        lines.append(f"length    {field:<7} chars {_percentiles([len(t) for t in texts])}"
                     f"   tokens {_percentiles([len(t.split()) for t in texts])}  (p50/p90/p99)")
    files = ", ".join(f"{k} {v}" for k, v in sorted(task.skipped.items()) if k in FILE_REASONS) or "none"
    other = ", ".join(f"{k} {v}" for k, v in sorted(task.skipped.items()) if k not in FILE_REASONS)
    lines.append(f"skipped   files: {files}" + (f"; other: {other}" if other else ""))
    lines.extend(f"warning   {text}" for text in task.notes)  # e.g. a split under half its target size
    if spec.paired:
        lines.append(_functions_line(task, spec))
    scores = floors(task)
    note = f"test split; fitted on train: {FLOORS[task.family].fitted}"
    lines.append("baseline  " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()) + f"  ({note})")
    return "\n".join(lines)


def _functions_line(task: TaskData, spec: TaskFamily) -> str:
    """Distinct functions (by content) per split, and how many evaluated ones train pairs hold:
    pairs split by pair, not by function, let a model meet a test function in training."""
    seen = {s: {r[f] for r in task.splits[s] for f in spec.inputs} for s in SPLITS}
    return "functions train " + f"{len(seen['train']):,}" + "".join(
        f" | {s} {len(seen[s]):,} ({len(seen[s] & seen['train']):,} also in train)" for s in ("valid", "test"))


def _percentiles(values: list[int]) -> str:
    if not values:
        return "-"
    return "/".join(f"{int(v):,}" for v in np.percentile(values, [50, 90, 99]))

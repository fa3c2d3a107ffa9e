"""The two references of every task: its learned lexical floors and the frozen pre-trained model.

    python benchmarks/references.py [--tasks search,clone_leetcode,classify,...] [--model minilm]

Per task config, on its whole test split: every lexical floor with its standard error (fitted on
train), the best of them, the frozen model's reference (a linear probe on frozen pooled features
for classification and pairs, zero-shot cosine for retrieval, none for seq2seq) and whether the
frozen model beats the best floor by more than two standard errors: the first half of a yardstick
(the second half, a trained arm beating the frozen model, is what ``freeze_speed.py`` and
``adapters.py`` measure). Prints one JSON line, written to
``benchmarks/results/references-<model>.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from codereuse.training.references import frozen_reference_of
from codereuse.evaluation.floors import floor_scores
from codereuse.data.registry import load_task
from codereuse.evaluation.verdict import beats, standard_error
from common import compose_train, task_names
from compare import rounded

RESULTS = Path(__file__).resolve().parent / "results"
# every task config that builds offline from the standard library or ../shared/data
TASKS = "search,clone_leetcode,classify,defect,clone,summarize,assert"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=task_names, default=TASKS, help=f"comma-separated task configs (default {TASKS})")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--out", type=Path, help="where the JSON line is written (default results/references-<model>.json)")
    args = parser.parse_args(argv)
    line = {"model": args.model, "split": "test", "tasks": {task: references(task, args.model) for task in args.tasks}}
    text = json.dumps(line)
    out = args.out or RESULTS / f"references-{args.model}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)
    return line


def references(task: str, model: str) -> dict:
    started = time.perf_counter()
    cfg = compose_train([f"task={task}", f"model={model}"])
    data = load_task(cfg.task.name, source_dir=cfg.data.source_dir, data_dir=cfg.data.dir, cache_dir=cfg.data.cache_dir,
                     seed=cfg.data.seed, options=dict(cfg.task.options))
    test = data.splits["test"]
    scores = floor_scores(data, test)
    floors = {name: {"score": rounded(float(s.mean())), "se": rounded(standard_error(s))} for name, s in scores.items()}
    best = max(floors, key=lambda name: floors[name]["score"])
    entry = {"family": data.family, "test_examples": len(test), "floors": floors, "floor_name": best,
             "floor": floors[best]["score"], "floor_se": floors[best]["se"], "frozen": None}
    frozen = frozen_reference_of(cfg, data, test, announce=False)
    if frozen is not None:
        entry.update(frozen_name=frozen.name, frozen=rounded(frozen.score), frozen_se=rounded(frozen.se),
                     frozen_beats_floor=beats(frozen.score, frozen.se, entry["floor"], entry["floor_se"]))
    entry["seconds"] = rounded(time.perf_counter() - started, 1)
    print(f"[references] {task}: " + json.dumps({k: v for k, v in entry.items() if k != "floors"}), flush=True)
    return entry


if __name__ == "__main__":
    main()

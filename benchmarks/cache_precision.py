"""What float16 disk states cost the task metric: the same cached ``freeze=top2`` run with every
frozen-prefix state in memory (float32) and with every state on disk (``freeze.cache_memory_gb=0``,
``freeze.cache_disk_dtype``), same seeds, interleaved, in this process.

    python benchmarks/cache_precision.py                      # task=search (train.py's default), seed 0
    python benchmarks/cache_precision.py --seeds 0,1 task=clone_leetcode

Prints one JSON line: ``{"task", "metric", "seeds", "disk_dtype", "memory": {"score", "fit_seconds"},
"disk": {...}, "score_difference", "max_abs_difference", "goal": {"max_abs_difference": 0.005, "met"}}``
(scores per seed lists, their mean; the difference is disk minus memory).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import headline_metric, train_once  # noqa: E402

GOAL = 0.005  # the largest change of the task metric float16 states may cause


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",")], default=[0])
    parser.add_argument("--disk-dtype", default="float16", choices=["float16", "bfloat16"])
    parser.add_argument("overrides", nargs="*", help="train.py overrides, e.g. task=clone_leetcode")
    args = parser.parse_args(argv)
    common = ["freeze=top2", "freeze.cache=true", "logger=none", *args.overrides]
    placements = {"memory": [], "disk": ["freeze.cache_memory_gb=0", f"freeze.cache_disk_dtype={args.disk_dtype}"]}
    runs: dict[str, list[dict]] = {name: [] for name in placements}
    for seed in args.seeds:  # interleaved: a drift of the machine's speed hits both placements alike
        for name, extra in placements.items():
            runs[name].append(train_once([*common, *extra, f"seed={seed}"]))
    metric = headline_metric(runs["memory"][0])
    scores = {name: [r[f"test/{metric}"] for r in rs] for name, rs in runs.items()}
    differences = [d - m for d, m in zip(scores["disk"], scores["memory"])]
    line = {"task": runs["memory"][0]["task"], "metric": metric, "seeds": args.seeds, "disk_dtype": args.disk_dtype,
            **{name: {"score": scores[name], "mean": sum(scores[name]) / len(scores[name]),
                      "fit_seconds": [r["fit_seconds"] for r in rs]} for name, rs in runs.items()},
            "score_difference": differences, "max_abs_difference": max(abs(d) for d in differences),
            "goal": {"max_abs_difference": GOAL, "met": max(abs(d) for d in differences) <= GOAL},
            "command": " ".join(["python benchmarks/cache_precision.py", *(argv if argv is not None else sys.argv[1:])])}
    print(json.dumps(line))
    return line


if __name__ == "__main__":
    main()

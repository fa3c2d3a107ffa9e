"""Telly's payoff in wall-clock time: full fine-tuning vs freeze=top2 vs freeze=top2 + prefix cache.

    python benchmarks/freeze_speed.py [--epochs 3] [--train 800] [overrides ...]

Same model (MiniLM), task (clone), data subset, seed, batch size and number of epochs for all three,
run one after another in this process through the same ``run(cfg)`` as ``train.py``. Times are
``trainer.fit`` seconds (training + per-epoch validation). Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json

from codereuse.cli.train import run
from common import compose_train

VARIANTS = {"full": ["freeze=none"], "top2": ["freeze=top2"], "top2_cached": ["freeze=top2", "freeze.cache=true"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=800, help="training pairs (seeded subset)")
    parser.add_argument("--eval", type=int, default=400, help="validation and test pairs (seeded subsets)")
    parser.add_argument("overrides", nargs="*", default=[])
    args = parser.parse_args()
    common = [f"trainer.max_epochs={args.epochs}", f"task.max_train_examples={args.train}",
              f"task.max_eval_examples={args.eval}", "logger=none", "callbacks=none", *args.overrides]
    results = {}
    for name, variant in VARIANTS.items():
        metrics = run(compose_train([*common, *variant]))
        results[name] = {"seconds": round(metrics["fit_seconds"], 1), "f1": round(metrics["test/f1"], 4),
                         "acc": round(metrics["test/acc"], 4), "trainable_params": metrics["trainable_params"]}
    for name in ("top2", "top2_cached"):
        results[f"speedup_{name}"] = round(results["full"]["seconds"] / results[name]["seconds"], 2)
    results["f1_gap_top2_cached"] = round(results["full"]["f1"] - results["top2_cached"]["f1"], 4)
    print(json.dumps({"model": "minilm", "task": "clone", "epochs": args.epochs, "train_pairs": args.train, **results}))


if __name__ == "__main__":
    main()

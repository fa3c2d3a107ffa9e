"""Telly's payoff in wall-clock time: full fine-tuning vs freeze=top2 vs freeze=top2 + prefix cache.

    python benchmarks/freeze_speed.py --tune [options] [overrides ...]   # choose each arm's LR, write
                                                                         # benchmarks/tuned/freeze_speed.yaml
    python benchmarks/freeze_speed.py [options] [overrides ...]          # the measured run (reuses it)

Same model (MiniLM), task (clone), data, batch size and epochs for every arm; each arm at its own
learning rate (tuned on validation F1 from its own grid; top2 takes top2_cached's, as the cache
changes nothing but time), over several training seeds with the arms interleaved within each seed,
all in this process through the same ``run(cfg)`` as ``train.py`` (see compare.py). Times are
``trainer.fit`` seconds (training + validation checks). Prints one JSON line: per arm the means
and standard errors over seeds, the seconds to reach full fine-tuning's final validation F1
(``seconds_to_full_f1``, null = never), the speed-ups at equal epochs and the task's floor.
"""
from __future__ import annotations

import argparse
import json

from compare import Arm, load_tuned, rounded, run_arms, time_to_reference, tune

BENCHMARK, TASK, MODEL = "freeze_speed", "clone", "minilm"
# full fine-tuning's grid around its usual 5e-5; two layers and a fresh head take larger steps
ARMS = [Arm("full", ["freeze=none"], [5e-5, 1e-4, 2e-4, 5e-4]),
        Arm("top2", ["freeze=top2"], [], lr_from="top2_cached"),
        Arm("top2_cached", ["freeze=top2", "freeze.cache=true"], [2e-4, 5e-4, 1e-3, 2e-3])]
KEPT = ("f1", "f1_se", "acc", "acc_se", "seconds", "seconds_se", "val", "val_se", "lr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="choose each arm's LR on validation and record it")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=400, help="training pairs (seeded subset)")
    parser.add_argument("--eval", type=int, default=200, help="validation and test pairs (seeded subsets)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds of the measured run")
    parser.add_argument("--val-checks", type=int, default=2, help="validation checks per epoch (time-to-F1 resolution)")
    parser.add_argument("overrides", nargs="*", default=[])
    args = parser.parse_args()
    common = [f"model={MODEL}", f"trainer.max_epochs={args.epochs}", f"task.max_train_examples={args.train}",
              f"task.max_eval_examples={args.eval}", f"trainer.val_check_interval={1 / args.val_checks}",
              "logger=none", "callbacks=none", "+trainer.enable_progress_bar=false", *args.overrides]
    if args.tune:
        tune(BENCHMARK, TASK, ARMS, common)
        return
    results = run_arms(ARMS, [*common, f"task={TASK}"], load_tuned(BENCHMARK, TASK, ARMS, common=common), seeds=tuple(range(args.seeds)))
    print(json.dumps(report(results, args)))


def report(results: dict[str, dict], args) -> dict:
    times = time_to_reference(results, "full")
    line = {"model": results["full"]["runs"][0]["model"], "task": TASK, "epochs": args.epochs, "train_pairs": args.train, "eval_pairs": args.eval,
            "seeds": args.seeds, "floor": rounded(results["full"]["floor"]), "floor_name": results["full"].get("floor_name")}
    for name, result in results.items():
        line[name] = {key: rounded(result[key]) for key in KEPT if key in result}
        line[name]["seconds_to_full_f1"] = rounded(times[name], 1)
        line[name]["trainable_params"] = result["runs"][0]["trainable_params"]
    for name in ("top2", "top2_cached"):
        line[f"speedup_{name}"] = round(results["full"]["seconds"] / results[name]["seconds"], 2)
    line["f1_gap_top2_cached"] = round(results["full"]["f1"] - results["top2_cached"]["f1"], 4)
    return line


if __name__ == "__main__":
    main()

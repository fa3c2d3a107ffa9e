"""Telly's payoff in wall-clock time: full fine-tuning vs freeze=top2 vs freeze=top2 + prefix cache.

    python benchmarks/freeze_speed.py --tune [options] [overrides ...]   # choose each arm's LR per task,
                                                                         # write benchmarks/tuned/freeze_speed.yaml
    python benchmarks/freeze_speed.py [options] [overrides ...]          # the measured run (reuses it)

Per task of ``--tasks`` (default ``search,clone_leetcode``, the yardstick tasks), in turn: same model
(MiniLM), data, batch size and epochs for every arm; each arm at its own learning rate (tuned on the
task's validation monitor from its own grid; top2 takes top2_cached's, as the cache changes nothing
but time), over several training seeds with the arms interleaved within each seed, all in this
process through the same ``run(cfg)`` as ``train.py`` (see compare.py). Times are ``trainer.fit``
seconds (training + validation checks). Scores are the task's headline test metric (``mrr`` for
retrieval, ``acc`` for pairs), beside its lexical floor and the frozen model's score.

The default budget is small, so that the tune pass and the measured run of both tasks fit in about
75 minutes on 2 CPU cores: 400 training examples, 300 validation and test examples, 2 epochs (the
prefix cache only pays from the second epoch on), one validation check per epoch, 3 seeds. At this
budget a task may well not be a yardstick; raise ``--train``/``--epochs`` for tighter numbers.

Prints one JSON line (and writes it to ``--out``)::

    {"model", "epochs", "train_examples", "eval_examples", "seeds",
     "tasks": {<task>: {"metric", "floor", "floor_name", "floor_se", "frozen", "frozen_name", "frozen_se",
                        "best_arm", "yardstick",
                        "full" | "top2" | "top2_cached": {"score", "score_se", "fit_seconds", "fit_seconds_se",
                                                          "lr", "trainable_params"},
                        "speedup_top2_cached", "speedup_top2", "score_gap_top2_cached",
                        "seconds_to_full_score": {<arm>: seconds | null}}},
     "goal": {"speedup": 3.0, "max_score_gap": 0.01, "met": {<yardstick task>: bool}}}

``seconds_to_full_score`` is the mean time to reach full fine-tuning's final validation score of the
same seed (null: some seed never did). The goal (cached top2 at least 3x faster than full
fine-tuning at equal epochs, test score at most 0.01 below it) is checked on yardstick tasks only.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import add_tasks_option
from compare import Arm, load_tuned, rounded, run_arms, task_yardstick, time_to_reference, tune

BENCHMARK, MODEL = "freeze_speed", "minilm"
OUT = Path(__file__).resolve().parent / "results" / "freeze-speed.json"
# full fine-tuning's grid around its usual 5e-5; two layers and a fresh head may take larger steps
# (on search, top2 at 5e-5 beats 2e-4 on validation; on the LeetCode pairs 2e-4 beats 5e-5)
ARMS = [Arm("full", ["freeze=none"], [2e-5, 5e-5, 1e-4]),
        Arm("top2", ["freeze=top2"], [], lr_from="top2_cached"),
        Arm("top2_cached", ["freeze=top2", "freeze.cache=true"], [5e-5, 2e-4, 5e-4])]
GOAL = {"speedup": 3.0, "max_score_gap": 0.01}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="choose each arm's LR on validation and record it")
    add_tasks_option(parser)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=400, help="training examples (seeded subset)")
    parser.add_argument("--eval", type=int, default=300, help="validation and test examples (seeded subsets)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds of the measured run")
    parser.add_argument("--val-checks", type=int, default=1, help="validation checks per epoch (time-to-score resolution)")
    parser.add_argument("--out", type=Path, default=OUT, help="where the JSON line is written")
    parser.add_argument("overrides", nargs="*", default=[])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict | None:
    args = parse(argv)
    # the same budget for every task: a task's own subset sizes are replaced
    common = [f"model={MODEL}", f"trainer.max_epochs={args.epochs}", f"task.max_train_examples={args.train}",
              f"task.max_eval_examples={args.eval}", f"trainer.val_check_interval={1 / args.val_checks}",
              "logger=none", "callbacks=none", "+trainer.enable_progress_bar=false", *args.overrides]
    per_task = {}
    for task in args.tasks:
        if args.tune:
            tune(BENCHMARK, task, ARMS, common)
            continue
        lrs = load_tuned(BENCHMARK, task, ARMS, common=common)
        per_task[task] = run_arms(ARMS, [*common, f"task={task}"], lrs, seeds=tuple(range(args.seeds)))
    if args.tune:
        return None
    line = report(per_task, args)
    text = json.dumps(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)
    return line


def report(per_task: dict[str, dict[str, dict]], args) -> dict:
    """The JSON line from each task's per-arm results (``run_arms``'s)."""
    first = next(iter(per_task.values()))
    tasks = {task: task_report(task, results) for task, results in per_task.items()}
    met = {task: goal_met(entry) for task, entry in tasks.items() if entry["yardstick"]}
    return {"model": first["full"]["runs"][0]["model"], "epochs": args.epochs, "train_examples": args.train,
            "eval_examples": args.eval, "seeds": args.seeds, "tasks": tasks, "goal": {**GOAL, "met": met}}


def task_report(task: str, results: dict[str, dict]) -> dict:
    block = task_yardstick(task, results)
    metric, times = block["metric"], time_to_reference(results, "full")
    entry = {**block, **{name: arm_report(result, metric) for name, result in results.items()}}
    for name in ("top2_cached", "top2"):
        entry[f"speedup_{name}"] = round(results["full"]["seconds"] / results[name]["seconds"], 2)
    full, cached = entry["full"]["score"], entry["top2_cached"]["score"]
    entry["score_gap_top2_cached"] = None if None in (full, cached) else round(full - cached, 4)
    entry["seconds_to_full_score"] = {name: rounded(seconds, 1) for name, seconds in times.items()}
    return entry


def arm_report(result: dict, metric: str | None) -> dict:
    return {"score": rounded(result.get(metric)), "score_se": rounded(result.get(f"{metric}_se")),
            "fit_seconds": rounded(result["seconds"]), "fit_seconds_se": rounded(result.get("seconds_se")),
            "lr": result["lr"], "trainable_params": result["runs"][0]["trainable_params"]}


def goal_met(entry: dict) -> bool:
    gap = entry["score_gap_top2_cached"]
    return entry["speedup_top2_cached"] >= GOAL["speedup"] and gap is not None and gap <= GOAL["max_score_gap"]


if __name__ == "__main__":
    main()

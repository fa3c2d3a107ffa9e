"""Model selection against brute force: the offline pool (with MPNet) on clone and classify.

    python benchmarks/selection.py              # full pool, 10 bootstrap draws
    python benchmarks/selection.py --reduced    # without mpnet_random, 5 draws (fits ~35 min warm-ish)
    ... --epochs 3 --train 1024                 # a larger brute-force budget than conf/select.yaml's

Runs ``select.py evaluate=true`` per task (fine-tuning results and features are cached, so a rerun
is quick), then once more per task so that the ``heuristic`` baseline (mean rank on the *other*
tasks) sees every task's ground truth. Prints ONE JSON line:
{"tasks": {<task>: {"brute_force_seconds", "candidates", "scorers": {<name>: {"seconds",
"weighted_tau", "top1_regret", "weighted_tau_no_controls", ...}}}}, "goal": {...}}
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("clone", "classify")
GOAL = {"weighted_tau": 0.6, "weighted_tau_no_controls": 0.4, "top1_regret": 0.03, "time_fraction": 0.02}


def select(task: str, out: Path, extra: list[str]) -> dict:
    command = [sys.executable, "select.py", f"task={task}", "pool=offline", "evaluate=true",
               f"hydra.run.dir={out}", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    with (out.parent / f"{out.name}.log").open("w") as log:
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)
    return json.loads((out / "metrics.json").read_text())


def summarise(metrics: dict) -> dict:
    scorers = {}
    for name, e in metrics["evaluation"].items():
        scorers[name] = {key: e.get(key) for key in (
            "kind", "seconds", "fraction_of_brute_force_time", "weighted_tau", "weighted_tau_ci", "kendall_tau",
            "pearson", "top1_regret", "top1_regret_ci", "weighted_tau_no_controls", "top1_regret_no_controls")}
    return {"brute_force_seconds": metrics["brute_force_seconds"], "candidates": len(metrics["candidates"]),
            "candidate_names": metrics["candidates"], "skipped": metrics["skipped"],
            "ground_truth": metrics["ground_truth"], "metric": metrics["ground_truth_metric"],
            "extraction_seconds": metrics["extraction_seconds"], "scorers": scorers}


def goal_check(tasks: dict) -> dict:
    """Per scorer: does it meet every goal on every task, and beat the heuristic there?"""
    verdict = {}
    names = set.intersection(*(set(t["scorers"]) for t in tasks.values()))
    for name in sorted(names):
        ok = True
        for task in tasks.values():
            s, h = task["scorers"][name], task["scorers"].get("heuristic", {})
            if s["kind"] != "scorer":
                ok = None
                break
            ok &= all(v is not None for v in (s["weighted_tau"], s["weighted_tau_no_controls"], s["top1_regret"]))
            ok = ok and s["weighted_tau"] >= GOAL["weighted_tau"] and s["weighted_tau_no_controls"] >= GOAL["weighted_tau_no_controls"] \
                and s["top1_regret"] <= GOAL["top1_regret"] and (s["fraction_of_brute_force_time"] or 1) < GOAL["time_fraction"] \
                and (h.get("weighted_tau") is None or s["weighted_tau"] > h["weighted_tau"])
        if ok is not None:
            verdict[name] = bool(ok)
    return verdict


def brute_force_budget(epochs: int | None, train: int | None) -> list[str]:
    """conf/select.yaml's brute-force overrides with its epochs / training examples replaced, as one
    Hydra override (empty when neither is given: the config's own budget)."""
    if epochs is None and train is None:
        return []
    items = yaml.safe_load((ROOT / "conf" / "select.yaml").read_text())["brute_force"]["overrides"]
    new = {"trainer.max_epochs": epochs, "task.max_train_examples": train}
    items = [f"{key}={new[key]}" if new.get(key := item.split("=", 1)[0]) is not None else item for item in items]
    return ["brute_force.overrides=[" + ",".join(f"'{item}'" for item in items) + "]"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reduced", action="store_true", help="drop mpnet_random, 5 bootstrap draws")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--epochs", type=int, default=None, help="brute-force epochs (default: conf/select.yaml's)")
    parser.add_argument("--train", type=int, default=None, help="brute-force training examples (default: the config's)")
    args = parser.parse_args()
    extra = ["~pool.candidates.mpnet_random", "bootstrap.draws=5"] if args.reduced else []
    budget = brute_force_budget(args.epochs, args.train)
    extra += budget
    tasks = args.tasks.split(",")
    with tempfile.TemporaryDirectory(prefix="selection-bench-") as scratch:
        for task in tasks:  # cold pass: features + brute force, cached
            select(task, Path(scratch) / f"{task}-cold", extra)
        results = {task: summarise(select(task, Path(scratch) / task, extra)) for task in tasks}
    print(json.dumps({"tasks": results, "goal": GOAL, "meets_goal": goal_check(results),
                      "mode": "reduced" if args.reduced else "full", "brute_force_budget": budget or "conf/select.yaml"}))


if __name__ == "__main__":
    main()

"""Model selection against brute force: the offline pool (with MPNet) on the tasks of ``--tasks``.

    python benchmarks/selection.py              # full pool, 10 bootstrap draws
    python benchmarks/selection.py --reduced    # without mpnet_random, 5 draws
    ... --without mpnet                         # leave more candidates out (the 110M-parameter MPNet)
    ... --epochs 3 --train 1024                 # a larger brute-force budget than conf/select.yaml's
    ... --tasks clone_leetcode,classify         # default search,clone_leetcode

Runs ``select.py evaluate=true`` per task (fine-tuning results and features are cached, so a rerun
is quick), then once more per task so that the ``heuristic`` baseline (mean rank on the *other*
tasks) sees every task's ground truth. A task preset with its own published data (``data_dir``) has
it passed to select.py and to every brute-force run, which train.py composes by the data's task name.

The transferability scorers (LogME, H-score, probes, ...) score features against class labels, so a
retrieval or seq2seq task (``search`` among the defaults) cannot be ranked: it is reported as
``{"skipped": <reason>}``. Each ranked task carries its yardstick block (compare.py): the best
candidate's fine-tuned ``acc`` at the brute-force budget against the lexical floor and that
candidate's own frozen features, read from the cached brute-force runs at each candidate's chosen
rate (averaged over the seeds; the references' errors are theirs). The goal counts on yardstick tasks
only (``meets_goal``); ``meets_goal_every_ranked_task`` says what it would be on every ranked task.
Prints ONE JSON line:
{"tasks": {<task>: {"metric", "floor", "floor_name", "floor_se", "frozen", "frozen_name",
"frozen_se", "best_arm", "yardstick", "ground_truth_metric", "brute_force_seconds", "candidates",
"scorers": {<name>: {"seconds", "weighted_tau", "top1_regret", "weighted_tau_no_controls", ...}}, ...}
| {"skipped": <reason>}}, "goal": {...}, "meets_goal": {<scorer>: bool}, "meets_goal_every_ranked_task": {...}, ...}
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
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from codereuse.selection.pipeline import brute_force_overrides
from codereuse.selection.brute_force import budget_key, results_dir
from codereuse.families import label_families
from common import add_tasks_option, task_family, unsupported
from compare import FAMILY_METRIC, references, task_yardstick

ROOT = Path(__file__).resolve().parents[1]
GOAL = {"weighted_tau": 0.6, "weighted_tau_no_controls": 0.4, "top1_regret": 0.03, "time_fraction": 0.02}
BEATEN = ("size", "pretraining_data", "heuristic")  # baselines a scorer meeting the goal must out-rank


def select(task: str, out: Path, extra: list[str]) -> dict:
    command = [sys.executable, "select.py", f"task={task}", "pool=offline", "evaluate=true",
               f"hydra.run.dir={out}", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    with (out.parent / f"{out.name}.log").open("w") as log:
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)
    return json.loads((out / "metrics.json").read_text())


def summarise(task: str, metrics: dict, records: dict[str, dict]) -> dict:
    """One ranked task's JSON entry; ``records``: each candidate's cached brute-force test metrics."""
    scorers = {}
    for name, e in metrics["evaluation"].items():
        scorers[name] = {key: e.get(key) for key in (
            "kind", "seconds", "fraction_of_brute_force_time", "weighted_tau", "weighted_tau_ci", "kendall_tau",
            "pearson", "top1_regret", "top1_regret_ci", "weighted_tau_no_controls", "top1_regret_no_controls",
                       "top1_regret_worst", "top1_regret_worst_no_controls", "complete", "missing",
                       "weighted_tau_truth_ci", "top1_regret_truth_ci", "top1_within_truth_ties")}
    metric = FAMILY_METRIC[task_family(task)]
    arms = {name: {metric: tests.get(f"test/{metric}"), **references(tests)}
            for name, tests in records.items() if name in metrics["candidates"]}
    return {**task_yardstick(task, arms, metric), "ground_truth_metric": metrics["ground_truth_metric"],
            "brute_force_seconds": metrics["brute_force_seconds"], "candidates": len(metrics["candidates"]),
            "candidate_names": metrics["candidates"], "skipped_candidates": metrics["skipped"],
            "ground_truth": metrics["ground_truth"], "extraction_seconds": metrics["extraction_seconds"],
            "ground_truth_detail": metrics.get("ground_truth_detail"), "ground_truth_tied_best": metrics.get("ground_truth_tied_best"),
            "same_weights": metrics.get("same_weights"),
            "scorers": scorers}


def brute_force_records(task: str, extra: list[str], detail: dict[str, dict]) -> dict[str, dict]:
    """Per candidate of ``detail`` (select.py's ``ground_truth_detail``: each one's chosen rate), the
    test metrics of its cached brute-force runs at that rate, averaged over the seeds (floor and
    frozen reference among them; select.py's own metrics keep only the ranked one)."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("select", overrides=[f"task={task}", *extra])
    options = OmegaConf.to_container(cfg.task.options, resolve=True) or {}
    records = {}
    for name, chosen in detail.items():
        runs = []
        for seed in cfg.brute_force.seeds:
            overrides = [*brute_force_overrides(cfg), f"strategy.optim.lr={chosen['lr']}"]
            key = budget_key(cfg.task.name, cfg.data.seed, seed, overrides, options)
            runs += [entry["test_metrics"] for path in sorted(results_dir().glob(f"*-{key}.json"))
                     if (entry := json.loads(path.read_text())).get("candidate") == name]
        if runs:
            records[name] = {key: (sum(r[key] for r in runs) / len(runs) if isinstance(runs[0][key], (int, float)) else runs[0][key])
                             for key in runs[0] if all(key in r for r in runs)}
    return records


def goal_check(tasks: dict) -> dict:
    """Per scorer: does it meet every goal on every task, and beat each baseline of ``BEATEN`` there?"""
    verdict = {}
    names = set.intersection(*(set(t["scorers"]) for t in tasks.values())) if tasks else set()
    for name in sorted(names):
        if any(task["scorers"][name]["kind"] != "scorer" for task in tasks.values()):
            continue
        verdict[name] = all(meets_goal(task["scorers"][name], task["scorers"]) for task in tasks.values())
    return verdict


def meets_goal(s: dict, scorers: dict) -> bool:
    """One complete scorer's entry against ``GOAL`` and the weighted tau of the baselines it must beat."""
    if s.get("complete") is False or any(s[key] is None for key in ("weighted_tau", "weighted_tau_no_controls", "top1_regret")):
        return False
    baselines = [scorers[b]["weighted_tau"] for b in BEATEN if scorers.get(b, {}).get("weighted_tau") is not None]
    return (s["weighted_tau"] >= GOAL["weighted_tau"] and s["weighted_tau_no_controls"] >= GOAL["weighted_tau_no_controls"]
            and s["top1_regret"] <= GOAL["top1_regret"] and (s["fraction_of_brute_force_time"] or 1) < GOAL["time_fraction"]
            and all(s["weighted_tau"] > b for b in baselines))


def brute_force_budget(epochs: int | None, train: int | None) -> list[str]:
    """conf/select.yaml's brute-force overrides with its epochs / training examples replaced, as one
    Hydra override (empty when neither is given: the config's own budget)."""
    if epochs is None and train is None:
        return []
    items = yaml.safe_load((ROOT / "conf" / "select.yaml").read_text())["brute_force"]["overrides"]
    new = {"trainer.max_epochs": epochs, "task.max_train_examples": train}
    items = [f"{key}={new[key]}" if new.get(key := item.split("=", 1)[0]) is not None else item for item in items]
    return ["brute_force.overrides=[" + ",".join(f"'{item}'" for item in items) + "]"]


def task_overrides(task: str, epochs: int | None, train: int | None) -> list[str]:
    """select.py overrides for ``task``: the brute-force budget, and a preset's own data directory
    (``data_dir``, relative to the project root; select.py passes it on to every brute-force run)."""
    data_dir = yaml.safe_load((ROOT / "conf" / "task" / f"{task}.yaml").read_text()).get("data_dir")
    return [*brute_force_budget(epochs, train), *([f"data.dir={(ROOT / data_dir).resolve()}"] if data_dir else [])]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduced", action="store_true", help="drop mpnet_random, 5 bootstrap draws")
    add_tasks_option(parser)
    parser.add_argument("--epochs", type=int, default=None, help="brute-force epochs (default: conf/select.yaml's)")
    parser.add_argument("--train", type=int, default=None, help="brute-force training examples (default: the config's)")
    parser.add_argument("--without", default="", help="pool candidates to leave out, comma-separated (e.g. mpnet)")
    args = parser.parse_args(argv)
    common = ["~pool.candidates.mpnet_random", "bootstrap.draws=5"] if args.reduced else []
    common += [f"~pool.candidates.{name}" for name in args.without.split(",") if name and f"~pool.candidates.{name}" not in common]
    refused = {task: reason for task in args.tasks
               if (reason := unsupported(task, label_families(), "the transferability scorers need class labels"))}
    for reason in refused.values():
        print(f"[selection] skipped {reason}", flush=True)
    ranked = {task: [*common, *task_overrides(task, args.epochs, args.train)] for task in args.tasks if task not in refused}
    results = {task: {"skipped": reason} for task, reason in refused.items()}
    with tempfile.TemporaryDirectory(prefix="selection-bench-") as scratch:
        for task, extra in ranked.items():  # cold pass: features + brute force, cached
            select(task, Path(scratch) / f"{task}-cold", extra)
        for task, extra in ranked.items():
            metrics = select(task, Path(scratch) / task, extra)
            results[task] = summarise(task, metrics, brute_force_records(task, extra, metrics.get("ground_truth_detail", {})))
    results = {task: results[task] for task in args.tasks}
    yardsticks = {task: result for task, result in results.items() if result.get("yardstick")}
    ranked_tasks = {task: result for task, result in results.items() if "scorers" in result}
    # the goal counts on yardstick tasks; on the others it is reported beside, as what it would say
    line = {"tasks": results, "goal": GOAL, "meets_goal": goal_check(yardsticks),
            "meets_goal_every_ranked_task": goal_check(ranked_tasks), "mode": "reduced" if args.reduced else "full",
            "without": [name for name in args.without.split(",") if name],
            "brute_force_budget": brute_force_budget(args.epochs, args.train) or "conf/select.yaml"}
    print(json.dumps(line))
    return line


if __name__ == "__main__":
    main()

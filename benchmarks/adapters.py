"""Reuse strategies side by side on MiniLM: full, top-2, head only, LoRA, prefix, prompt, Transducer
Tuning, the Transducer with shuffled graphs (the control for what the graph contributes) and its
graph alone (the control for what the backbone adds to it).

    python benchmarks/adapters.py --tune [options] [overrides ...]   # each arm's LR from its own grid,
                                                                     # on validation -> benchmarks/tuned/adapters.yaml
    python benchmarks/adapters.py [options] [overrides ...]          # the measured run (reuses those LRs)
    ... --head-lr-from head --record <name>   # every arm's task head at the head arm's LR; grids tune the rest

Per task of ``--tasks`` (default ``search,clone_leetcode``, the yardstick tasks), in turn: same
model, data subsets, max length, batch size and epochs for every arm; each arm at its own learning
rate, over several training seeds with the arms interleaved within each seed, all in this process
through ``run(cfg)`` as ``train.py`` (see compare.py). In ``transducer_shuffled`` every example is
fused with another example's graph (a fixed derangement per split) at ``transducer``'s tuned LR, so its gap to
``transducer`` is what the graph itself contributes; ``graph_only`` is the transducer's GNN over the graph pooled into
the task head with no backbone layer run, so the transducer's gap to it is what the frozen backbone
adds to the graph alone. Prints one JSON line ``{"tasks": {<task>: {"metric", "floor",
"floor_name", "floor_se", "frozen", "frozen_name", "frozen_se", "best_arm", "yardstick", "methods":
{<arm>: {"adapter_params", "adapter_pct", "head_params", "head_pct", "seconds", <metric>,
<metric>_se, ..., "lr"}}, "goal": {"max_adapter_pct", "max_gap_to_full", "checks": {<transducer arm>:
{"adapter_under_max", "at_least_lora", "near_full", "above_head", "above_shuffled", "met"}}}}}, ...}``
(scores as fractions, ``*_pct`` in % of the backbone's parameters, seconds = ``trainer.fit``; ``goal``
only where a Transducer arm ran); a task that is not a yardstick (see compare.py) is announced on its
own line and meets no goal. The line also records the budget (``epochs``, ``train``, ``max_length``, ``seeds``, ...)
and the Hydra ``overrides`` given after ``--``. The output-fusion arms cannot run on a seq2seq task (its decoder reads the encoder directly),
nor can ``graph_only`` (no decoder input worth scoring): such a task is reported as
``{"skipped": <reason>}`` while any of them is selected.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import add_tasks_option, unsupported
from compare import RUNS_DIR, Arm, load_tuned, rounded, run_arms, task_yardstick, tune

from codereuse.errors import ConfigError
from codereuse.evaluation.verdict import beats

BENCHMARK, MODEL = "adapters", "minilm"
OUTPUT = ["strategy=transducer", "strategy.transducer.fuse_at=output", "strategy.transducer.cache=true"]
# grids ordered most-plausible first: --grid-size k keeps the first k of each
ARMS = [
    Arm("full", ["strategy=finetune", "freeze=none"], [1e-4, 5e-5, 2e-4]),
    Arm("top2", ["strategy=finetune", "freeze=top2"], [2e-4, 5e-4, 1e-3]),
    # freeze=all with the frozen-prefix cache: the same function as freeze=all, computed once per example
    Arm("head", ["strategy=finetune", "freeze=all", "freeze.cache=true"], [3e-3, 1e-3, 1e-2]),
    Arm("lora", ["strategy=lora", "strategy.adapter.r=8"], [1e-3, 3e-4, 3e-3]),
    Arm("prefix", ["strategy=prefix"], [1e-2, 3e-3, 3e-2]),
    Arm("prompt", ["strategy=prompt"], [3e-2, 1e-2, 1e-1]),
    # a zero-initialised gate and a fresh GNN: 1e-3 was the best of {1e-3, 3e-4}, so larger steps next
    Arm("transducer", ["strategy=transducer"], [1e-3, 3e-3, 1e-2]),
    # a shuffled-graph control trains at its arm's tuned LR: the two differ in the graphs alone
    Arm("transducer_shuffled", ["strategy=transducer", "strategy.transducer.shuffle_graphs=true"], [], lr_from="transducer"),
    # the graph alone: the transducer's GNN, pooled per example, into the task head (no backbone layer)
    Arm("graph_only", ["strategy=graph_only"], [3e-3, 1e-3, 1e-2]),
    # the graph fused behind the frozen backbone (its token states computed once per example)
    Arm("transducer_output", [*OUTPUT], [3e-3, 1e-3, 1e-2]),
    Arm("transducer_output_shuffled", [*OUTPUT, "strategy.transducer.shuffle_graphs=true"], [], lr_from="transducer_output"),
    # ... with node features also from the backbone's contextual states over each node's span
    Arm("transducer_states", [*OUTPUT, "strategy.transducer.node_states=true"], [1e-3, 3e-3, 3e-4]),
    Arm("transducer_states_shuffled", [*OUTPUT, "strategy.transducer.node_states=true",
                                       "strategy.transducer.shuffle_graphs=true"], [], lr_from="transducer_states"),
]
# each Transducer arm and its shuffled-graph control; the goal: the adapter under 1% of the backbone, the score at
# least LoRA's and within 0.02 of full fine-tuning's, above the head alone and above the control by 2 s.e.
TRANSDUCERS = {"transducer": "transducer_shuffled", "transducer_output": "transducer_output_shuffled"}
GOAL = {"max_adapter_pct": 1.0, "max_gap_to_full": 0.02}
KEPT = ("f1", "f1_se", "acc", "acc_se", "mrr", "mrr_se", "bleu", "bleu_se", "seconds", "seconds_se", "lr")
COUNTS = ("adapter_params", "adapter_pct", "head_params", "head_pct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="choose each arm's LR on validation and record it")
    add_tasks_option(parser)
    parser.add_argument("--arms", nargs="+", default=[arm.name for arm in ARMS], choices=[arm.name for arm in ARMS])
    parser.add_argument("--grid-size", type=int, default=3, help="LRs per arm tried by --tune (the first k of its grid)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=None, help="training examples (seeded subset; default: the task's)")
    parser.add_argument("--eval", type=int, default=None, help="validation and test examples (default: the task's)")
    parser.add_argument("--max-length", type=int, default=None, help="tokens per code input (default: the task's)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds of the measured run")
    parser.add_argument("--record", default=BENCHMARK,
                        help="name of the tuned-LR record (benchmarks/tuned/<name>.yaml): one per budget you keep")
    parser.add_argument("--head-lr-from", default=None, choices=[arm.name for arm in ARMS],
                        help="every other arm trains its task head at this arm's tuned LR (strategy.optim.head_lr) "
                             "and tunes its own grid for the rest; use another --record")
    parser.add_argument("--resume", action="store_true",
                        help="reuse every finished run with the same overrides (stored in <runs-dir>/<record>): "
                             "an interrupted benchmark goes on where it stopped, and processes given disjoint --arms "
                             "share their runs with a last call over all arms (keyed by overrides alone: "
                             "delete that directory after changing what a run computes)")
    parser.add_argument("--runs-dir", type=Path, default=RUNS_DIR,
                        help=f"where --resume stores finished runs (default {RUNS_DIR.relative_to(RUNS_DIR.parents[1])}); "
                             "a committed folder lets a benchmark split over several machines go on from another checkout")
    parser.add_argument("overrides", nargs="*", default=[])
    args = parser.parse_args()
    arms = selected_arms(args.arms, args.grid_size, args.head_lr_from)
    store = args.runs_dir / args.record if args.resume else None
    line = {"record": args.record, "model": MODEL, "epochs": args.epochs, "train": args.train, "eval": args.eval, "max_length": args.max_length,
            "seeds": args.seeds, "head_lr_from": args.head_lr_from, "overrides": args.overrides, "tasks": {}}
    for task in args.tasks:
        reason = skip_reason(task, arms)
        if reason:
            print(f"[adapters] skipped {reason}", flush=True)
            line["tasks"][task] = {"skipped": reason}
            continue
        common = [f"model={MODEL}", f"task={task}", f"trainer.max_epochs={args.epochs}", "trainer.max_steps=-1",
                  "logger=none", "callbacks=none", "+trainer.enable_progress_bar=false", *_budget(args), *args.overrides]
        if args.tune:
            tune(args.record, task, arms, common, store=store)
            continue
        results = run_arms(arms, common, load_tuned(args.record, task, arms, common=common), seeds=tuple(range(args.seeds)),
                           store=store)
        line["tasks"][task] = report(task, results)
    if not args.tune:
        print(json.dumps(line))


def selected_arms(names: list[str], grid_size: int, head_lr_from: str | None = None) -> list[Arm]:
    """The named arms with their grids cut to ``grid_size``; with ``head_lr_from``, that arm first
    and every other arm's head at its LR."""
    names = [head_lr_from, *(n for n in names if n != head_lr_from)] if head_lr_from else names
    by_name = {arm.name: arm for arm in ARMS}
    orphans = [name for name in names if by_name[name].lr_from and by_name[name].lr_from not in names]
    if orphans:
        raise ConfigError("--arms", " ".join(names), hint=", ".join(f"{name} trains at {by_name[name].lr_from}'s LR: "
                                                                 f"select {by_name[name].lr_from} too" for name in orphans))
    return [Arm(name, by_name[name].overrides, by_name[name].lr_grid[:grid_size], by_name[name].lr_from,
                head_lr_from if head_lr_from and name != head_lr_from else None) for name in names]


def skip_reason(task: str, arms: list[Arm]) -> str | None:
    """Why ``task`` cannot run these arms: a seq2seq decoder bypasses output fusion, and a graph-only
    model has no decoder input worth scoring."""
    output = [arm.name for arm in arms if "strategy.transducer.fuse_at=output" in arm.overrides]
    graph_only = [arm.name for arm in arms if "strategy=graph_only" in arm.overrides]
    reasons = ([f"{', '.join(output)} fuse at the output, which a seq2seq decoder bypasses"] if output else []) + \
        ([f"{', '.join(graph_only)} has no decoder input worth scoring"] if graph_only else [])
    if not reasons:
        return None
    return unsupported(task, ("classification", "pair", "retrieval"), "; ".join(reasons) + "; leave them out with --arms")


def _budget(args) -> list[str]:
    limits = {"task.max_train_examples": args.train, "task.max_eval_examples": args.eval, "task.max_length": args.max_length}
    return [f"{key}={value}" for key, value in limits.items() if value is not None]


def report(task: str, results: dict[str, dict]) -> dict:
    methods = {}
    for name, result in results.items():
        counts = result["runs"][0]
        # a learning rate keeps every digit: 5e-5 rounded to 4 decimals would read 1e-4
        methods[name] = {**{key: rounded(counts[key]) for key in COUNTS},
                         **{key: result[key] if key == "lr" else rounded(result[key]) for key in KEPT if key in result}}
    block = {**task_yardstick(task, results), "methods": methods}
    checks = goal_checks(block)
    return {**block, "goal": {**GOAL, "checks": checks}} if checks else block


def goal_checks(block: dict) -> dict[str, dict]:
    """Per Transducer arm present: each part of the goal (None where the arm it is read against did
    not run) and ``met``, which also needs the task to be a yardstick."""
    metric, methods = block["metric"], block["methods"]

    def score(name):
        return (methods[name].get(metric), methods[name].get(f"{metric}_se")) if name in methods else (None, None)

    checks = {}
    for arm, control in TRANSDUCERS.items():
        if arm not in methods:
            continue
        value, se = score(arm)
        lora, full, head, shuffled = score("lora")[0], score("full")[0], score("head"), score(control)
        parts = {"adapter_under_max": methods[arm]["adapter_pct"] < GOAL["max_adapter_pct"],
                 "at_least_lora": None if lora is None else value >= lora,
                 "near_full": None if full is None else value >= full - GOAL["max_gap_to_full"],
                 "above_head": None if head[0] is None else beats(value, se, *head),
                 "above_shuffled": None if shuffled[0] is None else beats(value, se, *shuffled)}
        checks[arm] = {**parts, "met": bool(block["yardstick"]) and all(parts.values())}
    return checks


if __name__ == "__main__":
    main()

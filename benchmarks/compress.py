"""Teacher vs its 3 MB student (fp32, int8, ONNX), side by side in one process; one JSON line.

    python benchmarks/compress.py                       # compress.py's defaults on --tasks, 3 seeds
    python benchmarks/compress.py --reduced             # 4 distillation epochs, 5 generations (the classify rows' budget)
    python benchmarks/compress.py --pareto              # also the latency-aware search's Pareto pick
    python benchmarks/compress.py --tasks classify      # tasks by --tasks, not task=
    python benchmarks/compress.py --grid                # distillation settings chosen on validation first
    python benchmarks/compress.py --candidate "" --candidate "distill.temperature=4 distill.max_epochs=20"

Per task of ``--tasks`` (default ``search,clone_leetcode``), in turn: the architecture is searched
once, in the first run (search.seed=0); the later distillation seeds train that very architecture
(search.arch=, since a latency-aware search measures time and could pick another on a rerun) against
the same teacher, with seeds 0, 1, 2. Each run measures the teacher and its student forms interleaved
(median of repeated runs, batch 1 and 32, one thread). Accuracy/F1 are on the whole test split: mean
+- standard error over the seeds.

With ``--grid`` (the candidates of ``DEFAULT_GRID``) or ``--candidate`` (each a string of ``distill.*``
overrides; "" is compress.yaml's defaults), the distillation settings are chosen on validation first:
every candidate is distilled once at the first seed into the architecture the first candidate searches,
the one whose fp32 student scores the best validation accuracy (the earliest on a tie) is chosen -- no
test score enters the choice -- and only then the seeds run with it, that candidate's run serving as
the first seed's. The task's entry records each candidate's validation accuracy (``grid``) and the
chosen overrides (``chosen``). DEFAULT_GRID's standard-library candidates need a published task (such
as clone_leetcode): compress refuses them on a task built from the standard library itself.

Compress distils a classifier's soft labels, so it runs classification and pair tasks only; a
retrieval or seq2seq task (``search`` among the defaults) is reported as ``{"skipped": <reason>}``.
Each task's entry carries its yardstick block (compare.py: ``metric`` acc, the lexical floor, the
frozen reference, ``best_arm`` among teacher and students, ``yardstick``), its references read from
compress.py's metrics (``test/floor``, ``test/frozen``, ...); a reference they do not carry is null,
and a task without a frozen reference is no yardstick.

    {"tasks": {<task>: {"metric", "floor", "floor_name", "floor_se", "frozen", "frozen_name", "frozen_se",
                        "best_arm", "yardstick", "teacher", "student_fp32", "student_int8", "student_onnx",
                        "speedup_b1", "speedup_b32", "accuracy_drop", "student_arch", "seq_len",
                        "teacher_checkpoint", "minutes", ["pareto_pick"],
                        ["grid": [{"overrides", "val_accuracy", "minutes"}], "chosen"]} | {"skipped": <reason>}},
     "seeds", "reduced"}
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_tasks_option, unsupported  # noqa: E402
from compare import mean_se, references, rounded, task_yardstick  # noqa: E402

from codereuse.compression.pipeline import run  # noqa: E402
from codereuse.compression.teacher import DISTILLABLE  # noqa: E402

CONF = Path(__file__).resolve().parents[1] / "conf"
REDUCED = ["distill.max_epochs=4", "search.generations=5", "latency_repeats=15"]
FORMS = ("student_fp32", "student_int8", "student_onnx")
VALIDATION = "student_fp32/val_accuracy"  # what a grid candidate is chosen by
# compress.yaml's defaults, a softer temperature with half the loss on the hard labels, and each of
# them with the standard library's built pairs added to the transfer set
DEFAULT_GRID = ([], ["distill.temperature=4", "distill.hard_weight=0.5"], ["distill.extra_source_dir=stdlib"],
                ["distill.temperature=4", "distill.hard_weight=0.5", "distill.extra_source_dir=stdlib"])


def compress(overrides: list[str]) -> dict:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("compress", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = cfg.hydra.runtime.output_dir = tempfile.mkdtemp(prefix="codereuse-compress-")
    HydraConfig.instance().set_config(cfg)
    return run(cfg)


def summarise(runs: list[dict], name: str) -> dict:
    if f"{name}/accuracy" not in runs[0]:
        return {}
    acc, acc_se = mean_se([r[f"{name}/accuracy"] for r in runs])
    f1, f1_se = mean_se([r[f"{name}/f1"] for r in runs])
    out = {"size_mb": runs[0][f"{name}/size_mb"], "params": runs[0][f"{name}/params"],
           "latency_b1_ms": statistics.median(r[f"{name}/latency_b1_ms"] for r in runs),
           "latency_b32_ms": statistics.median(r[f"{name}/latency_b32_ms"] for r in runs),
           "accuracy": acc, "accuracy_se": acc_se, "f1": f1, "f1_se": f1_se}
    if f"{name}/agreement_with_fp32" in runs[0]:
        out["agreement_with_fp32"] = min(r[f"{name}/agreement_with_fp32"] for r in runs)
    return {k: rounded(v) for k, v in out.items()}


def candidate(text: str) -> list[str]:
    """``--candidate``: distill.* overrides, space-separated; anything else would change more than the
    distillation (the task, the teacher, the architecture) between the runs compared."""
    overrides = shlex.split(text)
    other = [o for o in overrides if not o.startswith("distill.")]
    if other:
        raise argparse.ArgumentTypeError(f"a grid candidate sets distill.* only, not {other[0]}")
    return overrides


def choose_on_validation(runs: list[dict]) -> int:
    """The index of the run whose fp32 student scores the best validation accuracy; the earliest
    among equals (``max`` keeps the first). Test scores are never read."""
    return max(range(len(runs)), key=lambda i: runs[i][VALIDATION])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduced", action="store_true", help="4 distillation epochs, 5 search generations, 15 latency repeats")
    parser.add_argument("--pareto", action="store_true", help="also run search.mode=pareto and report its pick")
    add_tasks_option(parser)
    # comma-separated, so that compress.py overrides may follow: --seeds 0,1 distill.hard_weight=0.5
    parser.add_argument("--seeds", type=lambda text: [int(seed) for seed in text.split(",")], default=[0, 1, 2],
                        help="distillation seeds, comma-separated (default 0,1,2)")
    parser.add_argument("--grid", action="store_true", help="choose the distillation settings on validation "
                        "among DEFAULT_GRID's candidates first")
    parser.add_argument("--candidate", type=candidate, action="append", metavar="OVERRIDES",
                        help='one grid candidate, e.g. "distill.temperature=4 distill.hard_weight=0.5" ("": the '
                        "defaults); repeated, they replace DEFAULT_GRID and imply --grid")
    parser.add_argument("overrides", nargs="*", help="compress.py overrides, e.g. teacher=outputs/teachers/...")
    args = parser.parse_args(argv)
    args.grid = args.candidate or (list(DEFAULT_GRID) if args.grid else None)  # the candidates, or None: no grid
    common = ["logger=none", "search.seed=0", *(REDUCED if args.reduced else []), *args.overrides]
    line = {"tasks": {}, "seeds": args.seeds, "reduced": args.reduced}
    for task in args.tasks:
        reason = unsupported(task, DISTILLABLE, "compress.py distils a classifier's soft labels")
        if reason:
            print(f"[compress] skipped {reason}", flush=True)
        line["tasks"][task] = {"skipped": reason} if reason else distil(task, [*common, f"task={task}"], args)
    print(json.dumps(line))
    return line


def distil(task: str, common: list[str], args) -> dict:
    """Every seed of one task (at the settings chosen on validation with a grid), the Pareto pick with
    ``--pareto``; the task's JSON entry."""
    first_seed = f"seed={args.seeds[0]}"
    if args.grid:
        first, chosen, tried = grid_search(common, args.grid, first_seed)
        common = [*common, *chosen]
    else:
        first = compress([*common, first_seed])
    # every seed distils the very same teacher into the very same architecture
    teacher = f"teacher={first['teacher_checkpoint']}"
    runs = [first] + [compress([*common, teacher, f"search.arch='{first['search/picked']}'", f"seed={seed}"])
                      for seed in args.seeds[1:]]
    models = {name: summary for name in ("teacher", *FORMS) if (summary := summarise(runs, name))}
    # compress's floor and scores are on the whole test split; the teacher and each form are the arms
    arms = {name: {"acc": m["accuracy"], "acc_se": m["accuracy_se"], **references(first)} for name, m in models.items()}
    result = {**task_yardstick(task, arms, "acc"), **models}
    result.update(
        speedup_b1=rounded(statistics.median(r["speedup_b1"] for r in runs)),
        speedup_b32=rounded(statistics.median(r["speedup_b32"] for r in runs)),
        accuracy_drop=rounded(models["teacher"]["accuracy"] - models["student_fp32"]["accuracy"]),
        student_arch=first["student/arch"], seq_len=first["search/seq_len"],
        teacher_checkpoint=first["teacher_checkpoint"], minutes=rounded(sum(r["wall_seconds"] for r in runs) / 60, 1))
    if args.pareto:
        pareto = compress([*common, teacher, "search.mode=pareto", f"seed={args.seeds[0]}"])
        result["pareto_pick"] = {"arch": pareto["student/arch"], "speedup_b1": rounded(pareto["speedup_b1"]),
                                 "accuracy": rounded(pareto["student_fp32/accuracy"]),
                                 "latency_b1_ms": rounded(pareto["student_fp32/latency_b1_ms"]),
                                 "size_mb": rounded(pareto["student_fp32/size_mb"]),
                                 "front_size": pareto["search/pareto_size"]}
    if args.grid:
        result.update(grid=tried, chosen=chosen)
    return result


def grid_search(common: list[str], grid: list[list[str]], seed: str) -> tuple[dict, list[str], list[dict]]:
    """Each candidate of ``grid`` distilled once at ``seed``, the first one searching the architecture
    and training (or finding) the teacher that the others reuse: the chosen candidate's run, its
    overrides and every candidate's validation accuracy (their test scores are left out)."""
    runs = [compress([*common, *grid[0], seed])]
    same = [f"teacher={runs[0]['teacher_checkpoint']}", f"search.arch='{runs[0]['search/picked']}'"]
    runs += [compress([*common, *overrides, *same, seed]) for overrides in grid[1:]]
    best = choose_on_validation(runs)
    tried = [{"overrides": overrides, "val_accuracy": rounded(run[VALIDATION]),
              "minutes": rounded(run["wall_seconds"] / 60, 1)} for overrides, run in zip(grid, runs)]
    print(f"[compress] chosen on validation accuracy: {grid[best]} of {json.dumps(tried)}", flush=True)
    return runs[best], grid[best], tried


if __name__ == "__main__":
    main()

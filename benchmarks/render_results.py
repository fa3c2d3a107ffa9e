"""Render the tables of the results pages (``docs/results/*.md``) from ``benchmarks/results/*.json``.

    python benchmarks/render_results.py            # rewrite every page's tables in place
    python benchmarks/render_results.py --check    # exit 1 and list the pages whose tables are stale

A page keeps its hand-written prose; each table sits between two HTML comments (invisible on GitHub)::

    <!-- table: KIND FILE [FILE ...] [key=value ...] -->
    ...rendered here...
    <!-- end table -->

or, when rows need files of their own or a label, one entry per line::

    <!-- table: students task=classify
    compress-a.json: no change
    compress-b.json+compress-c.json: `distill.hard_weight=0.5` (seeds of both files pooled)
    -->

``FILE`` is a name in ``benchmarks/results/``; ``+`` pools the seeds of several files into one row;
the text after ``:`` is the row's label (``students``, ``runs``) or the arms to take (``arms``,
comma-separated). Below each table the renderer writes the file(s) and the command that wrote them:
the file's own ``command`` key, else the command known for it (``COMMANDS``, ``adapters_command``).
Kinds: see ``KINDS``. Standard library only, so it runs (and its test is quick) anywhere.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGES = ROOT / "docs" / "results"
REGION = re.compile(r"^(?P<start><!-- table:(?P<spec>.*?)-->)(?P<body>.*?)^(?P<end><!-- end table -->)", re.DOTALL | re.MULTILINE)
DASH = "—"


class RenderError(Exception):
    """A region that cannot be rendered: unknown kind, missing file, no known command."""


# ---- the commands that wrote the files that do not record their own ---------------------------------
_CLASSIFY = "--tasks classify task.max_length=128 strategy.optim.lr=5e-4 freeze.cache=true"
_L6H96 = "\"search.arch='L6 H96 A4 I320 V1000'\" export_onnx=false"
_TREE = "distill.extra_source_dir=<tree>"  # <tree>: python benchmarks/installed_code.py <tree>
_PICKED = f"python benchmarks/compress.py --reduced --seeds 0 {_CLASSIFY} search.mode=pareto {_L6H96}"
_SEEDED = "python benchmarks/compress.py --reduced --seeds {seeds} " + f"{_CLASSIFY} {_L6H96}"
COMMANDS = {
    "references-minilm.json": "python benchmarks/references.py",
    "freeze-speed-search.json": "python benchmarks/freeze_speed.py --tasks search",
    "freeze-speed-clone_leetcode.json": "python benchmarks/freeze_speed.py --tasks clone_leetcode --seeds 2",
    "clone-kinds-minilm.json": "python benchmarks/clone_kinds.py",
    "adapters-classify-medium-headlr-shuffled-same-lr.json": "python benchmarks/adapters_same_lr.py",
    "selection-reduced-both-budget3x.json": "python benchmarks/selection.py --reduced --epochs 3 --train 1024 --tasks clone,classify",
    "selection-reduced-both.json": "python benchmarks/selection.py --reduced --tasks clone,classify",
    "compress-reduced-seed0.json": "python benchmarks/compress.py --reduced --seeds 0 --tasks clone",
    "compress-classify-reduced-seed0.json": f"python benchmarks/compress.py --reduced --seeds 0 {_CLASSIFY}",
    "compress-classify-reduced-seed0-extra.json": f"python benchmarks/compress.py --reduced --seeds 0 {_CLASSIFY} {_TREE}",
    "compress-classify-reduced-seed0-extra-pareto.json":
        f"python benchmarks/compress.py --reduced --seeds 0 {_CLASSIFY} {_TREE} search.mode=pareto search.target_speedup=6",
    "compress-classify-reduced-seed0-pareto-speedup10.json":
        f"python benchmarks/compress.py --reduced --seeds 0 {_CLASSIFY} search.mode=pareto search.target_speedup=10 export_onnx=false",
    "compress-classify-seed0-extra-fixed-6epochs.json":
        f"python benchmarks/compress.py --seeds 0 {_CLASSIFY} {_TREE} search.mode=pareto "
        "\"search.arch='L6 H96 A4 I320 V1000'\" distill.max_epochs=6 latency_repeats=15",
    "compress-classify-L6H96-T10.json": _PICKED,
    "compress-classify-L6H96-T2.json": f"{_PICKED} distill.temperature=2",
    "compress-classify-L6H96-T10-lr3e-3.json": f"{_PICKED} distill.optim.lr=3e-3",
    "compress-classify-L6H96-T10-hard0.5.json": f"{_PICKED} distill.hard_weight=0.5",
    "compress-classify-L6H96-T10-hard0.8.json": f"{_PICKED} distill.hard_weight=0.8",
    "compress-classify-L6H96-T10-hard0.5-extra.json": f"{_PICKED} distill.hard_weight=0.5 {_TREE}",
    "compress-classify-L6H96-T10-seeds012.json": _SEEDED.format(seeds="0,1,2"),
    "compress-classify-L6H96-T10-feature1.json": _SEEDED.format(seeds="0") + " distill.feature_weight=1.0",
    "compress-classify-L6H96-T10-feature0.1.json": _SEEDED.format(seeds="0") + " distill.feature_weight=0.1",
    "compress-classify-L6H96-T10-hard0.5-seeds012.json": _SEEDED.format(seeds="0,1,2") + " distill.hard_weight=0.5",
    "compress-classify-L6H96-T10-tasksource.json": _SEEDED.format(seeds="0") + " distill.task_source=true",
    "compress-classify-L6H96-T10-tasksource-hard0.5.json":
        _SEEDED.format(seeds="0") + " distill.task_source=true distill.hard_weight=0.5",
    "compress-classify-L6H96-T10-tasksource-hard0.5-seeds12.json":
        _SEEDED.format(seeds="1,2") + " distill.task_source=true distill.hard_weight=0.5",
    "compress-classify-L6H96-T10-extra-seed1.json": _SEEDED.format(seeds="1") + f" {_TREE}",
}


def adapters_command(name: str, data: dict) -> str | None:
    """``benchmarks/adapters.py`` records its budget; the measured run's command follows from it."""
    if not name.startswith("adapters-") or "tasks" not in data:
        return None
    parts = ["python benchmarks/adapters.py", f"--seeds {data['seeds']}", f"--epochs {data['epochs']}"]
    parts += [f"--{flag} {data[key]}" for flag, key in (("train", "train"), ("eval", "eval"), ("max-length", "max_length"))
              if data.get(key) is not None]
    parts.append(f"--tasks {','.join(data['tasks'])}")
    if data.get("record"):
        parts.append(f"--record {data['record']}")
    if data.get("head_lr_from"):
        parts.append(f"--head-lr-from {data['head_lr_from']}")
    arms = [arm for task in data["tasks"].values() for arm in task.get("methods", {})]
    parts.append("--arms " + " ".join(dict.fromkeys(arms)))
    if data.get("overrides"):
        parts += ["--", *data["overrides"]]
    return " ".join(parts)


def command_of(name: str, data: dict) -> str:
    command = data.get("command") or COMMANDS.get(name) or adapters_command(name, data)
    if not command:
        raise RenderError(f"no command is known for {name}: give the JSON a 'command' key or add it to COMMANDS")
    return command


# ---- number formats -------------------------------------------------------------------------------
def num(value, digits: int = 3) -> str:
    """Rounded half up from the shortest decimal form, as a person rounds the printed 0.5055 (to 0.506)."""
    if value is None:
        return DASH
    return str(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def pm(mean, se, digits: int = 3) -> str:
    return num(mean, digits) if se is None else f"{num(mean, digits)} ± {num(se, digits)}"


def pct(fraction, digits: int = 2) -> str:
    return DASH if fraction is None else f"{num(100 * fraction, digits)}%"


def secs(value) -> str:
    return DASH if value is None else (f"{Decimal(num(value, 0)):,} s" if value >= 100 else f"{num(value, 1)} s")


def rate(value) -> str:
    """A learning rate as people write it: 3e-3, 5e-5."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def times(value) -> str:
    return f"{num(value, 2)}x"


def bold(text: str) -> str:
    return f"**{text}**"


def table(header: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    right = right if right is not None else set(range(1, len(header)))
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


METRIC_NAMES = {"mrr": "MRR", "accuracy": "accuracy", "bleu": "BLEU"}
HEADLINE = {"mrr": "test/mrr", "accuracy": "test/acc", "bleu": "test/bleu"}  # as training.report reads floor names


def metric_of(floor_name: str) -> str:
    return floor_name.rsplit("_", 1)[-1]


# ---- table kinds: each takes [(files, text)], options, a loader; returns (table, notes) ------------
def references(entries, options, load):
    data = load(entries[0][0][0])
    wanted = options.get("tasks", "").split(",") if options.get("tasks") else list(data["tasks"])
    rows = []
    for task in wanted:
        t = data["tasks"][task]
        frozen = f"{pm(t['frozen'], t['frozen_se'])} (`{t['frozen_name']}`)" if t.get("frozen") is not None else "none (seq2seq)"
        beats = {True: "yes", False: "no"}.get(t.get("frozen_beats_floor"), DASH)
        rows.append([f"`{task}`", t["family"], f"{t['test_examples']:,}", METRIC_NAMES[metric_of(t["floor_name"])],
                     f"{pm(t['floor'], t['floor_se'])} (`{t['floor_name']}`)", frozen, beats])
    header = ["task", "family", "test records", "metric", "best lexical floor", "frozen model", "frozen beats floor?"]
    return table(header, rows, right={2}), []


def runs(entries, options, load):
    rows = []
    for files, label in entries:
        d = load(files[0])
        metric = metric_of(d["test/floor_name"])
        rows.append([label or f"`{d['command']}`", METRIC_NAMES[metric], bold(num(d[HEADLINE[metric]])),
                     f"{pm(d['test/floor'], d.get('test/floor_se'))} (`{d['test/floor_name']}`)",
                     f"{pm(d['test/frozen'], d.get('test/frozen_se'))} (`{d['test/frozen_name']}`)",
                     secs(d["fit_seconds"]), d.get("budget", DASH)])
    return table(["run", "metric", "test score", "best lexical floor", "frozen model", "fit", "budget"], rows,
                 right={2, 5}), []


def freeze_speed(entries, options, load):
    rows = []
    for files, _ in entries:
        d = load(files[0])
        for task, t in d["tasks"].items():
            def arm(name, t=t):
                a = t[name]
                return f"{pm(a['score'], a['score_se'])} ({num(a['fit_seconds'], 0)} s)"
            met = d.get("goal", {}).get("met", {}).get(task)
            rows.append([f"`{task}` ({t['metric']})", str(d["seeds"]), num(t["floor"]), num(t["frozen"]), arm("full"),
                         arm("top2"), arm("top2_cached"), times(t["speedup_top2_cached"]),
                         ("+" if t["score_gap_top2_cached"] >= 0 else "") + num(t["score_gap_top2_cached"]), "yes" if t["yardstick"] else "no",
                         DASH if met is None else ("yes" if met else "no")])
    header = ["task (metric)", "seeds", "lexical floor", "frozen", "full", "`top2`", "`top2` + cache",
              "speed-up (cached)", "gap full − cached", "yardstick?", "goal met?"]
    return table(header, rows, right=set(range(1, 9))), []


SCORES = (("f1", "test F1"), ("acc", "test acc"), ("mrr", "test MRR"), ("bleu", "test BLEU"))


def _task_block(data: dict, task: str | None) -> dict:
    """One task's entry of a benchmark line (``{"tasks": {...}}``), or the line itself (one-task files)."""
    if "tasks" not in data:
        return data
    tasks = {name: t for name, t in data["tasks"].items() if "skipped" not in t}
    if task is None and len(tasks) != 1:
        raise RenderError(f"the file holds tasks {sorted(tasks)}: name one with task=")
    return tasks[task or next(iter(tasks))]


def arms(entries, options, load):
    rows, floors, extra = [], [], []
    for files, wanted in entries:
        data = load(files[0])
        block = _task_block(data, options.get("task"))
        names = [w.strip() for w in wanted.split(",")] if wanted else list(block["methods"])
        rows += [(name, block["methods"][name]) for name in names]
        floors.append(f"`{block['floor_name']}` {num(block['floor'])}")
        extra += _yardstick_notes(block)
    scores = [(key, label) for key, label in SCORES if any(key in m for _, m in rows)]
    rows.sort(key=lambda row: -row[1][scores[0][0]])
    body = [[f"`{name}`", pct(m['adapter_pct'] / 100), rate(m["lr"]),
             *[pm(m.get(key), m.get(f"{key}_se")) for key, _ in scores], secs(m["seconds"])] for name, m in rows]
    header = ["arm", "adapter (% of backbone)", "LR", *[label for _, label in scores], "fit"]
    notes = [f"Lexical floor: {', '.join(dict.fromkeys(floors))}.", *dict.fromkeys(extra)]
    return table(header, body, right=set(range(1, len(header)))), notes


GOAL_PARTS = (("adapter_under_max", "adapter under {max_adapter_pct:g}%"), ("at_least_lora", "at least LoRA"),
              ("near_full", "within {max_gap_to_full:g} of full"), ("above_head", "above the head by 2 s.e."),
              ("above_shuffled", "above its shuffled control by 2 s.e."))


def _yardstick_notes(block: dict) -> list[str]:
    """The frozen reference, the yardstick verdict and the Transducer's goal, where the block has them."""
    if "yardstick" not in block:
        return []
    if block.get("frozen") is None:
        notes = ["Frozen model: none (a generation task has no frozen reference). A yardstick at this budget: no."]
    else:
        notes = [f"Frozen model: `{block['frozen_name']}` {pm(block['frozen'], block.get('frozen_se'))}; lexical floor "
                 f"{pm(block['floor'], block.get('floor_se'))}. A yardstick at this budget: "
                 f"{'yes' if block.get('yardstick') else 'no'} (best arm `{block.get('best_arm')}`)."]
    goal = block.get("goal")
    for arm, checks in (goal or {}).get("checks", {}).items():
        parts = [f"{label.format(**goal)} {DASH if checks[key] is None else ('yes' if checks[key] else 'no')}"
                 for key, label in GOAL_PARTS]
        # a goal counts only on a yardstick, whatever its checks say
        verdict = "met" if checks["met"] else "not met" if block.get("yardstick") else "not met, not a yardstick"
        notes.append(f"Goal for `{arm}`: {verdict} ({'; '.join(parts)}).")
    return notes


def _pooled(groups: list[tuple[float, float | None, int]]) -> tuple[float, float | None]:
    """Mean and standard error of all seeds of several runs, from each run's mean, error and seed count."""
    total = sum(n for _, _, n in groups)
    mean = sum(m * n for m, _, n in groups) / total
    if total == 1:
        return mean, None
    squares = sum((n - 1) * (se * math.sqrt(n)) ** 2 + n * m * m if n > 1 and se is not None else m * m
                  for m, se, n in groups)
    variance = max(squares - total * mean * mean, 0.0) / (total - 1)
    return mean, math.sqrt(variance / total)


def students(entries, options, load):
    rows = []
    for files, label in entries:
        runs_ = [(_task_block(load(f), options.get("task")), load(f)) for f in files]
        seeds = [s for block, line in runs_ for s in block.get("seeds", line.get("seeds", []))]
        acc = _pooled([(b["student_fp32"]["accuracy"], b["student_fp32"]["accuracy_se"], len(b.get("seeds", l.get("seeds"))))
                       for b, l in runs_])
        f1 = _pooled([(b["student_fp32"]["f1"], b["student_fp32"]["f1_se"], len(b.get("seeds", l.get("seeds"))))
                      for b, l in runs_])
        teacher = runs_[0][0]["teacher"]["accuracy"]
        archs = sorted({b["student_arch"] for b, _ in runs_})
        speed = sorted({b["speedup_b1"] for b, _ in runs_})
        agreement = min(b["student_int8"]["agreement_with_fp32"] for b, _ in runs_ if "student_int8" in b)
        rows.append([label or ", ".join(files), ", ".join(map(str, seeds)), " / ".join(f"`{a}`" for a in archs),
                     f"{num(runs_[0][0]['student_fp32']['size_mb'], 2)} MB", pm(*acc), pm(*f1), num(teacher - acc[0]),
                     pct(agreement), "–".join(times(s)[:-1] for s in speed) + "x"])
    header = ["student", "seeds", "architecture", "size", "test accuracy", "test F1", "drop", "int8 agreement", "speed-up, batch 1"]
    return table(header, rows, right={4, 5, 6, 7, 8}), []


FORMS = (("teacher", "teacher"), ("student_fp32", "fp32 student"), ("student_int8", "int8 student"),
         ("student_onnx", "ONNX student"))


def forms(entries, options, load):
    block = _task_block(load(entries[0][0][0]), options.get("task"))
    present = [(key, name) for key, name in FORMS if key in block]
    def row(label, fn):
        return [label, *[fn(block[key]) for key, _ in present]]
    rows = [row("size", lambda f: f"{num(f['size_mb'], 2)} MB"),
            row("parameters", lambda f: f"{f['params']:,}"),
            row("latency, batch 1", lambda f: f"{num(f['latency_b1_ms'], 2)} ms"),
            row("latency, batch 32", lambda f: f"{Decimal(num(f['latency_b32_ms'], 0)):,} ms"),
            # one teacher serves every seed: its error over seeds is 0, not a sampling error, so none is shown
            row("test accuracy", lambda f: pm(f["accuracy"], f.get("accuracy_se") or None)),
            row("test F1", lambda f: pm(f["f1"], f.get("f1_se") or None)),
            row("agreement with fp32", lambda f: pct(f.get("agreement_with_fp32")) if "agreement_with_fp32" in f else "")]
    notes = [f"Student `{block['student_arch']}` at {block['seq_len']} tokens; fp32 student "
             f"{times(block['speedup_b1'])} faster than the teacher at batch 1, {times(block['speedup_b32'])} at batch 32; "
             f"accuracy drop {num(block['accuracy_drop'])}; {_compress_references(block)}."]
    if "pareto_pick" in block:
        pick = block["pareto_pick"]
        notes.append(f"The latency-aware search (`search.mode=pareto`, one run) picks `{pick['arch']}`: {num(pick['size_mb'], 2)} MB, {times(pick['speedup_b1'])} faster than the "
                     f"teacher at batch 1, test accuracy {num(pick['accuracy'])} (one seed).")
    return table(["", *[name for _, name in present]], rows), notes


def _compress_references(block: dict) -> str:
    """The lexical floor and the frozen reference beside a compress entry: older entries carry the floor
    as ``{"name", "accuracy"}``, newer ones the yardstick block's flat keys."""
    floor = block["floor"]
    text = (f"lexical floor `{floor['name']}` {num(floor['accuracy'])}" if isinstance(floor, dict)
            else f"lexical floor `{block['floor_name']}` {pm(floor, block.get('floor_se'))}")
    if block.get("frozen") is not None:
        text += f", frozen `{block['frozen_name']}` {pm(block['frozen'], block.get('frozen_se'))}"
    return text


def distill_grid(entries, options, load):
    """The distillation settings tried on validation (one seed each) and the one chosen."""
    block = _task_block(load(entries[0][0][0]), options.get("task"))
    rows = []
    for tried in block["grid"]:
        label = " ".join(f"`{o}`" for o in tried["overrides"]) or "compress.yaml's defaults"
        chosen = tried["overrides"] == block["chosen"]
        rows.append([bold(label) if chosen else label, bold(num(tried["val_accuracy"])) if chosen else num(tried["val_accuracy"]),
                     num(tried["minutes"], 1)])
    return table(["candidate", "fp32 student, validation accuracy", "minutes"], rows, right={1, 2}), []


BASELINES = ("size", "pretraining_data", "heuristic", "random")


def selection(entries, options, load):
    data = load(entries[0][0][0])
    tasks = options["tasks"].split(",") if options.get("tasks") else list(data["tasks"])
    blocks = [data["tasks"][t] for t in tasks]
    names = [n for n, s in blocks[0]["scorers"].items() if s["kind"] == "scorer"]
    names.sort(key=lambda n: (not blocks[0]["scorers"][n].get("complete", True), -(blocks[0]["scorers"][n]["weighted_tau"] or -9)))
    names += [n for n in BASELINES if n in blocks[0]["scorers"]]
    rows = []
    for name in names:
        cells = [f"`{name}`" + (" (baseline)" if name in BASELINES else "")]
        for block in blocks:
            s = block["scorers"][name]
            cells += [num(s["weighted_tau"]), num(s.get("weighted_tau_no_controls")), num(s["top1_regret"]),
                      DASH if s["kind"] == "baseline" else pct(s["fraction_of_brute_force_time"], 1)]
        rows.append(cells)
    header = ["scorer"]
    for task in tasks:
        header += [f"{task}: weighted τ", "w/o controls", "top-1 regret", "time / brute force"]
    meets = [n for n, ok in data.get("meets_goal", {}).items() if ok]
    goal = data.get("goal", {})
    notes = ["; ".join(f"`{t}`: {b['candidates']} candidates ranked by `{b['metric']}`, brute force "
                       f"{secs(b['brute_force_seconds'])}, feature extraction {secs(b['extraction_seconds'])}"
                       for t, b in zip(tasks, blocks)) + "."]
    if goal:
        notes.append(f"Goal (the benchmark's `meets_goal`): weighted τ ≥ {goal['weighted_tau']}, ≥ "
                     f"{goal['weighted_tau_no_controls']} without controls, top-1 regret ≤ {goal['top1_regret']}, "
                     f"≤ {pct(goal['time_fraction'], 0)} of brute-force time; met by: "
                     f"{', '.join(f'`{n}`' for n in meets) or 'none'}.")
    return table(header, rows), notes


def ground_truth(entries, options, load):
    data = load(entries[0][0][0])
    tasks = options["tasks"].split(",") if options.get("tasks") else list(data["tasks"])
    blocks = [data["tasks"][t] for t in tasks]
    names = list(blocks[0]["ground_truth"])
    rows = [[f"`{name}`", *[num(b["ground_truth"].get(name)) for b in blocks]] for name in names]
    return table(["candidate", *[f"{t} (`{b['metric']}`)" for t, b in zip(tasks, blocks)]], rows), []


def interval(bounds) -> str:
    return DASH if not bounds else f"[{num(bounds[0])}, {num(bounds[1])}]"


def selection_truth(entries, options, load):
    """One task's ranking against a ground truth with its own noise: weighted tau and expected top-1
    regret with intervals over redrawn ground truths, the worst case among tied top scores, and
    whether a scorer's pick is one the ground truth cannot tell from the best."""
    data = load(entries[0][0][0])
    task = options["task"]
    block = data["tasks"][task]
    scorers = block["scorers"]
    names = [n for n, s in scorers.items() if s["kind"] == "scorer"]
    names.sort(key=lambda n: (scorers[n].get("complete") is False, -(scorers[n]["weighted_tau"] or -9)))
    names += [n for n in BASELINES if n in scorers]
    rows = []
    for name in names:
        s = scorers[name]
        label = f"`{name}`" + (" (baseline)" if name in BASELINES else "") + \
            (f" (incomplete: {', '.join(s.get('missing') or [])})" if s.get("complete") is False else "")
        within = None if s.get("complete") is False else s.get("top1_within_truth_ties")
        rows.append([label, num(s["weighted_tau"]), interval(s.get("weighted_tau_truth_ci")), num(s.get("weighted_tau_no_controls")),
                     num(s["top1_regret"]), interval(s.get("top1_regret_truth_ci")), num(s.get("top1_regret_worst")),
                     DASH if within is None else ("yes" if within else "no"),
                     DASH if s["kind"] == "baseline" else pct(s["fraction_of_brute_force_time"], 1)])
    header = ["scorer", "weighted τ", "over truth draws", "w/o controls", "top-1 regret (expected)", "over truth draws",
              "worst among tied top scores", "pick tied with best", "time / brute force"]
    checked = bool(block.get("yardstick"))
    verdict = data.get("meets_goal" if checked else "meets_goal_every_ranked_task", {})
    meets = ", ".join(f"`{n}`" for n, ok in verdict.items() if ok) or "none"
    goal = data.get("goal", {})
    notes = [f"`{task}`: {block['candidates']} candidates ranked by `{block['ground_truth_metric']}`, brute force "
             f"{secs(block['brute_force_seconds'])}, feature extraction {secs(block['extraction_seconds'])}; "
             f"the ground truth cannot separate {', '.join(f'`{n}`' for n in block.get('ground_truth_tied_best') or [])} "
             f"from the best."]
    if goal:
        met = f"met by: {meets}" if checked else \
            f"not counted, as the task is no yardstick at this budget; on this task it would be met by: {meets}"
        notes.append(f"Goal: weighted τ ≥ {goal['weighted_tau']}, ≥ {goal['weighted_tau_no_controls']} without controls, "
                     f"top-1 regret ≤ {goal['top1_regret']}, ≤ {pct(goal['time_fraction'], 0)} of brute-force time, "
                     f"above every baseline but `random`; {met}.")
    return table(header, rows), notes


def truth_seeds(entries, options, load):
    """Each candidate's ground truth: the rate chosen on validation (mean over seeds), the seeds' test
    scores there, their mean and standard error, and whether it is tied with the best."""
    data = load(entries[0][0][0])
    block = data["tasks"][options["task"]]
    detail, tied = block["ground_truth_detail"], set(block.get("ground_truth_tied_best") or [])
    rates = sorted({float(lr) for d in detail.values() for lr in d["validation"]})
    rows = []
    for name in sorted(detail, key=lambda n: -block["ground_truth"][n]):
        d = detail[name]
        validation = {float(lr): value for lr, value in d["validation"].items()}
        rows.append([f"`{name}`", *[num(validation.get(lr)) for lr in rates], f"{d['lr']:g}",
                     ", ".join(num(v) for v in d["test"]), pm(block["ground_truth"][name], d["se"]),
                     "yes" if name in tied else ""])
    metric = block["ground_truth_metric"].split("/", 1)[-1]
    header = ["candidate", *[f"val {metric} at lr {lr:g}" for lr in rates], "chosen lr", f"test {metric} per seed",
              "mean ± s.e.", "tied with best"]
    notes = []
    if block.get("floor") is not None:
        notes.append(f"Lexical floor `{block['floor_name']}` {pm(block['floor'], block.get('floor_se'))}; frozen "
                     f"`{block['best_arm']}` (`{block['frozen_name']}`) {pm(block['frozen'], block.get('frozen_se'))}, "
                     f"on the same test records; the best candidate's mean `{block['ground_truth_metric']}` is "
                     f"{num(block['ground_truth'][block['best_arm']])}.")
    return table(header, rows), notes


def cache_precision(entries, options, load):
    """The same cached run with its frozen-prefix states in memory and on disk, seed by seed."""
    data = load(entries[0][0][0])
    metric = data["metric"]
    rows = [[f"seed {seed}", num(memory, 4), num(disk, 4), f"{disk - memory:+.1e}"]
            for seed, memory, disk in zip(data["seeds"], data["memory"]["score"], data["disk"]["score"])]
    header = ["", f"test {metric}, states in memory (float32)", f"states on disk ({data['disk_dtype']})", "difference"]
    goal = data["goal"]
    notes = [f"`{data['task']}`; largest difference {data['max_abs_difference']:.1e} against a goal of at most "
             f"{goal['max_abs_difference']}: {'met' if goal['met'] else 'not met'}."]
    return table(header, rows), notes


def scale(entries, options, load):
    """Cost and memory against dataset size: ``set=pairs`` (BigCloneBench-shaped) or ``set=functions``
    (CodeSearchNet-shaped); the pairs table carries the goals."""
    data = load(entries[0][0][0])
    which = options.get("set", "pairs")
    sizes = data[which]["sizes"]
    def gb(value) -> str:
        return num(value, 2) if value is not None else DASH
    rows = [[f"{int(n):,}", secs(size["build_seconds"]), f"{size['sequences_encoded']:,}",
             secs(size["encode_seconds_all"]) + (" (est.)" if size.get("encoded_sample") else ""),
             num(size["cached_seconds_per_1k_pairs"], 2),
             num(size["uncached_seconds_per_1k_pairs"], 2) if "uncached_seconds_per_1k_pairs" in size else DASH,
             gb(size["cache_plan"]["total_gb"]), gb(size["cache_plan"]["disk_gb"]), gb(size["peak_rss_gb"])]
            for n, size in sorted(sizes.items(), key=lambda item: int(item[0]))]
    unit = "pairs" if which == "pairs" else "functions"
    header = [f"training {unit}", "build", "distinct sequences", "encoding them", f"cached s / 1k {unit}",
              f"uncached s / 1k {unit}", "cache estimate, GB (float32)", "spilled to disk, GB (float16)", "peak RSS, GB"]
    notes = []
    if which == "pairs":
        notes.append("; ".join(f"`{name}` {num(goal['value'], 2)} (goal {goal['goal']}): {'met' if goal['met'] else 'not met'}"
                               for name, goal in data["goals"].items()) + ".")
    elif data[which].get("note"):
        notes.append(data[which]["note"].rstrip(".") + ".")
    return table(header, rows, right=set(range(1, 9))), notes


PROPERTIES = ("lexical", "syntactic", "structural", "semantic")


def probes(entries, options, load):
    data = load(entries[0][0][0])
    best = {p: max(layer[p] for layer in data["layers"]) for p in PROPERTIES}
    rows = [[layer["name"], *[bold(num(layer[p])) if layer[p] == best[p] else num(layer[p]) for p in PROPERTIES],
             num(data["bag_of_words_map"])] for layer in data["layers"]]
    rows.append(["baseline (majority; random ranking)", *[num(data["baselines"][p]) for p in PROPERTIES], DASH])
    return table(["layer", "lexical", "syntactic", "structural", "semantic (MAP)", "bag of sub-words (MAP)"], rows), []


def clone_kinds(entries, options, load):
    data = load(entries[0][0][0])
    rows = [[f"`{kind}`", str(k["pairs"]), num(k["probe_acc"]), num(k["mean_cosine"])] for kind, k in data["kinds"].items()]
    rows.append(["all", str(data["test_pairs"]), num(data["probe_acc"]), DASH])
    floors = ", ".join(f"`{name}` {num(value)}" for name, value in data["floors"].items())
    notes = [f"Frozen `{data['model']}` features, logistic probe fitted on {data['train_pairs']:,} training pairs. "
             f"Floors on the same test pairs: {floors}."]
    return table(["pair kind", "test pairs", "frozen-probe accuracy", "mean cosine of the two sides"], rows), notes


KINDS = {"references": references, "runs": runs, "freeze-speed": freeze_speed, "arms": arms, "students": students,
         "forms": forms, "selection": selection, "ground-truth": ground_truth, "probes": probes,
         "selection-truth": selection_truth, "truth-seeds": truth_seeds, "cache-precision": cache_precision,
         "clone-kinds": clone_kinds, "distill-grid": distill_grid,
         "scale": scale}


# ---- pages ------------------------------------------------------------------------------------------
def parse_spec(spec: str) -> tuple[str, list[tuple[list[str], str]], dict]:
    lines = [line.strip() for line in spec.strip().splitlines() if line.strip()]
    if not lines:
        raise RenderError("an empty table marker")
    kind, *words = lines[0].split()
    options = dict(w.split("=", 1) for w in words if "=" in w)
    entries = [([w], "") for w in words if "=" not in w]
    for line in lines[1:]:
        files, _, text = line.partition(":")
        entries.append(([f.strip() for f in files.split("+")], text.strip()))
    if not entries:
        raise RenderError(f"table '{kind}' names no result file")
    return kind, entries, options


def render_region(spec: str, results: Path, page_dir: Path) -> str:
    kind, entries, options = parse_spec(spec)
    if kind not in KINDS:
        raise RenderError(f"unknown table kind '{kind}'; known: {', '.join(KINDS)}")
    cache: dict[str, dict] = {}

    def load(name: str) -> dict:
        if name not in cache:
            path = results / name
            if not path.is_file():
                raise RenderError(f"no result file {path}")
            cache[name] = json.loads(path.read_text())
        return cache[name]

    body, notes = KINDS[kind](entries, options, load)
    files = list(dict.fromkeys(f for fs, _ in entries for f in fs))
    link = {f: Path(os.path.relpath(results / f, page_dir)).as_posix() for f in files}
    if len(files) == 1:
        sources = [f"Source: [`{files[0]}`]({link[files[0]]}), written by `{command_of(files[0], load(files[0]))}`."]
    else:
        sources = ["Sources:"] + [f"- [`{f}`]({link[f]}): `{command_of(f, load(f))}`" for f in files]
    return "\n".join(["", body, "", *[f"{n}\n" for n in notes], *sources, "", ""])


def render_page(text: str, results: Path = RESULTS, page_dir: Path = PAGES, name: str = "page") -> str:
    def replace(match: re.Match) -> str:
        try:
            return match["start"] + render_region(match["spec"], results, page_dir) + match["end"]
        except (KeyError, TypeError, ValueError) as error:
            raise RenderError(f"{name}: table '{match['spec'].strip().splitlines()[0]}': {type(error).__name__} {error}") from None
        except RenderError as error:
            raise RenderError(f"{name}: {error}") from None
    return REGION.sub(replace, text)


def stale_pages(pages: list[Path], results: Path = RESULTS) -> list[Path]:
    return [page for page in pages if render_page(page.read_text(), results, page.parent, str(page)) != page.read_text()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 listing the stale pages")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON files are")
    parser.add_argument("pages", nargs="*", type=Path, help="pages to render (default: docs/results/*.md)")
    args = parser.parse_args(argv)
    pages = args.pages or sorted(PAGES.glob("*.md"))
    try:
        if args.check:
            stale = stale_pages(pages, args.results)
            for page in stale:
                print(f"stale: {page} (run: python benchmarks/render_results.py)")
            return 1 if stale else 0
        for page in pages:
            text = page.read_text()
            rendered = render_page(text, args.results, page.parent, str(page))
            if rendered != text:
                page.write_text(rendered)
                print(f"rendered {page}")
    except RenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
